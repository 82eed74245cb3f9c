package api

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/authnconfig"
	"github.com/cellplane/cellplane/internal/clusterupdates"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/paging"
)

// OIDC identity providers, the EKS way. A provider is stored in the
// cluster's spec at once; the cell writes it into the API servers'
// authentication configuration, which they reload without a restart, and
// reports in status which providers every API server has loaded. The
// provider reads CREATING until then and ACTIVE after; a disassociated one
// reads DELETING until every API server has dropped it, and the region then
// removes it from the spec. Reading moves these states, as it does
// encryption updates, so a region restarted in between still settles them.

// idpRoutes registers the identity provider operations.
func (s *server) idpRoutes(mux *http.ServeMux) {
	const base = "/clusters/{name}/identity-provider-configs"
	mux.HandleFunc("POST "+base+"/associate", s.handle(s.associateIdentityProviderConfig))
	mux.HandleFunc(base+"/associate", s.methodNotAllowed("POST"))
	mux.HandleFunc("POST "+base+"/describe", s.handle(s.describeIdentityProviderConfig))
	mux.HandleFunc(base+"/describe", s.methodNotAllowed("POST"))
	mux.HandleFunc("POST "+base+"/disassociate", s.handle(s.disassociateIdentityProviderConfig))
	mux.HandleFunc(base+"/disassociate", s.methodNotAllowed("POST"))
	mux.HandleFunc("GET "+base, s.handle(s.listIdentityProviderConfigs))
	mux.HandleFunc(base, s.methodNotAllowed("GET"))
}

// annotationIDPAssociatedBy holds the clientRequestToken of the
// AssociateIdentityProviderConfig call that stored the cluster's provider:
// its retry after a crash before the update was recorded records it.
const annotationIDPAssociatedBy = "cellplane.io/identity-provider-associated-by"

// associateIdentityProviderConfig serves AssociateIdentityProviderConfig:
// POST /clusters/{name}/identity-provider-configs/associate.
func (s *server) associateIdentityProviderConfig(r *http.Request) (any, error) {
	var in eks.AssociateIdentityProviderConfigInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	idp, err := eksinput.IdentityProvider(&in)
	if err != nil {
		return nil, err
	}
	c, err := s.idpCluster(r)
	if err != nil {
		return nil, err
	}
	typ, params := eks.UpdateTypeAssociateIdentityProviderConfig, idpParams(idp.Name)
	if u, err := s.updateByToken(r.Context(), c, in.ClientRequestToken, typ, params); err != nil || u != nil {
		return associateOutput(u, idp.Tags, err)
	}
	idp.ID = clusterupdates.NewUUID()
	err = s.updateCluster(r.Context(), accountFor(r), c, func(c *v1alpha1.Cluster) error {
		if err := requireActive(c); err != nil {
			return err
		}
		if idp.IssuerURL == c.Status.Endpoint {
			return errdefs.Publicf(errdefs.ErrInvalidParameter, "oidc.issuerUrl %s is the cluster's own service account issuer.", idp.IssuerURL)
		}
		return addProvider(c, idp, in.ClientRequestToken)
	})
	if err != nil {
		return nil, err
	}
	update := v1alpha1.ClusterUpdateSpec{Type: typ, Params: params, ClientRequestToken: in.ClientRequestToken}
	u, err := s.recordUpdate(r.Context(), c, update, v1alpha1.UpdateInProgress)
	return associateOutput(u, idp.Tags, err)
}

// addProvider adds idp to c, which EKS allows one provider: the same name
// again is in use, another name is a request the cluster cannot take.
func addProvider(c *v1alpha1.Cluster, idp v1alpha1.OIDCIdentityProvider, token string) error {
	for _, have := range c.Spec.IdentityProviders {
		switch {
		case have.Name == idp.Name && token != "" && c.Annotations[annotationIDPAssociatedBy] == token:
			return errNoChange // a retry of the call that stored it, cut short before its update
		case have.Name == idp.Name:
			return errdefs.Publicf(errResourceInUse, "Identity provider config %s is already associated with cluster %s.", idp.Name, c.Spec.Name)
		}
		return errdefs.Publicf(errdefs.ErrInvalidRequest, "Cluster %s already has identity provider config %s; a cluster can have one: disassociate it first.", c.Spec.Name, have.Name)
	}
	c.Spec.IdentityProviders = append(c.Spec.IdentityProviders, idp)
	if token != "" {
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[annotationIDPAssociatedBy] = token
	}
	return nil
}

func associateOutput(u *v1alpha1.ClusterUpdate, tags map[string]string, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return eks.AssociateIdentityProviderConfigOutput{Update: toWireUpdate(u), Tags: tags}, nil
}

// describeIdentityProviderConfig serves DescribeIdentityProviderConfig:
// POST /clusters/{name}/identity-provider-configs/describe.
func (s *server) describeIdentityProviderConfig(r *http.Request) (any, error) {
	var in eks.DescribeIdentityProviderConfigInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	name, err := eksinput.IdentityProviderRef(in.IdentityProviderConfig)
	if err != nil {
		return nil, err
	}
	c, err := s.idpCluster(r)
	if err != nil {
		return nil, err
	}
	idp, err := providerNamed(c, name)
	if err != nil {
		return nil, err
	}
	return eks.DescribeIdentityProviderConfigOutput{IdentityProviderConfig: &eks.IdentityProviderConfigResponse{OIDC: s.toWireIDP(accountFor(r), c, idp)}}, nil
}

// listIdentityProviderConfigs serves ListIdentityProviderConfigs:
// GET /clusters/{name}/identity-provider-configs?maxResults=N&nextToken=T.
func (s *server) listIdentityProviderConfigs(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := paging.ParseLimit(q.Get("maxResults"), eks.MinListIdentityProviderConfigsResults,
		eks.MaxListIdentityProviderConfigsResults, eks.DefaultListIdentityProviderConfigsResults)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken(q.Get("nextToken"))
	if err != nil {
		return nil, err
	}
	c, err := s.idpCluster(r)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range c.Spec.IdentityProviders {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	page, next := paginate(names, after, limit)
	out := eks.ListIdentityProviderConfigsOutput{IdentityProviderConfigs: []eks.IdentityProviderConfig{}, NextToken: next}
	for _, n := range page {
		out.IdentityProviderConfigs = append(out.IdentityProviderConfigs, eks.IdentityProviderConfig{Type: eks.IdentityProviderTypeOIDC, Name: n})
	}
	return out, nil
}

// disassociateIdentityProviderConfig serves DisassociateIdentityProviderConfig:
// POST /clusters/{name}/identity-provider-configs/disassociate.
func (s *server) disassociateIdentityProviderConfig(r *http.Request) (any, error) {
	var in eks.DisassociateIdentityProviderConfigInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	if err := eksinput.ValidateToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	name, err := eksinput.IdentityProviderRef(in.IdentityProviderConfig)
	if err != nil {
		return nil, err
	}
	c, err := s.idpCluster(r)
	if err != nil {
		return nil, err
	}
	typ, params := eks.UpdateTypeDisassociateIdentityProviderConfig, idpParams(name)
	if u, err := s.updateByToken(r.Context(), c, in.ClientRequestToken, typ, params); err != nil || u != nil {
		return updateOutput(u, err)
	}
	err = s.updateCluster(r.Context(), accountFor(r), c, func(c *v1alpha1.Cluster) error {
		if err := requireActive(c); err != nil {
			return err
		}
		i := slices.IndexFunc(c.Spec.IdentityProviders, func(p v1alpha1.OIDCIdentityProvider) bool { return p.Name == name })
		switch {
		case i < 0:
			return idpNotFound(name)
		case c.Spec.IdentityProviders[i].Disassociating:
			return errdefs.Publicf(errResourceInUse, "Identity provider config %s is already being disassociated from cluster %s.", name, c.Spec.Name)
		}
		c.Spec.IdentityProviders[i].Disassociating = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	update := v1alpha1.ClusterUpdateSpec{Type: typ, Params: params, ClientRequestToken: in.ClientRequestToken}
	return updateOutput(s.recordUpdate(r.Context(), c, update, v1alpha1.UpdateInProgress))
}

// idpCluster fetches the cluster a request names, with the providers
// every API server has dropped removed.
func (s *server) idpCluster(r *http.Request) (*v1alpha1.Cluster, error) {
	c, err := s.clusterOfRequest(r)
	if err != nil {
		return nil, err
	}
	return c, s.settleIdentityProviders(r.Context(), accountFor(r), c)
}

// settleIdentityProviders removes the disassociated providers once the cell
// reports that every API server runs the configuration without them.
func (s *server) settleIdentityProviders(ctx context.Context, account string, c *v1alpha1.Cluster) error {
	if !droppedEverywhere(c) {
		return nil
	}
	return s.updateCluster(ctx, account, c, func(c *v1alpha1.Cluster) error {
		if !droppedEverywhere(c) {
			return errNoChange
		}
		c.Spec.IdentityProviders = authnconfig.Active(c.Spec.IdentityProviders)
		return nil
	})
}

// droppedEverywhere reports whether c has a provider being disassociated,
// every API server has loaded the configuration its spec renders to, which
// leaves that provider out, and no API server can still hold a token of it
// in its token cache.
func droppedEverywhere(c *v1alpha1.Cluster) bool {
	if !slices.ContainsFunc(c.Spec.IdentityProviders, func(p v1alpha1.OIDCIdentityProvider) bool { return p.Disassociating }) {
		return false
	}
	st := c.Status.Authentication
	return loadedEverywhere(c) && st.ObservedAt != nil && time.Since(st.ObservedAt.Time) >= tokenCacheTTL
}

// tokenCacheTTL is how long kube-apiserver keeps a bearer token's
// successful authentication (TokenSuccessCacheTTL, 10 s, no flag sets it):
// for that long after an API server drops a provider it may still accept a
// token it accepted just before. A disassociated provider reads DELETING
// until then, so "gone" means refused.
const tokenCacheTTL = 10 * time.Second

// loadedEverywhere reports whether every API server runs the
// configuration c's spec renders to.
func loadedEverywhere(c *v1alpha1.Cluster) bool {
	data, err := authnconfig.Render(c.Spec.IdentityProviders)
	st := c.Status.Authentication
	return err == nil && st != nil && st.ConfigHash == authnconfig.Hash(data)
}

// idpStatus is a provider's EKS status.
func idpStatus(c *v1alpha1.Cluster, p v1alpha1.OIDCIdentityProvider) string {
	st := c.Status.Authentication
	switch {
	case p.Disassociating:
		return eks.ConfigStatusDeleting
	case st != nil && slices.Contains(st.IdentityProviders, p.ID):
		return eks.ConfigStatusActive
	}
	return eks.ConfigStatusCreating
}

// settleIdentityProviderUpdate marks an identity provider update done once
// it took effect on every API server: an association once its provider is
// ACTIVE (Cancelled if it was disassociated first), a disassociation once
// no provider of its name is being removed.
func (s *server) settleIdentityProviderUpdate(ctx context.Context, c *v1alpha1.Cluster, u *v1alpha1.ClusterUpdate) {
	if u.Status.Status == v1alpha1.UpdateSuccessful || u.Status.Status == v1alpha1.UpdateCancelled ||
		(u.Spec.Type != eks.UpdateTypeAssociateIdentityProviderConfig && u.Spec.Type != eks.UpdateTypeDisassociateIdentityProviderConfig) {
		return
	}
	if err := s.settleIdentityProviders(ctx, c.Labels[v1alpha1.LabelAccount], c); err != nil {
		s.log.Warn("removing disassociated identity providers", "cluster", c.Spec.Name, "err", err)
		return
	}
	name := idpNameOf(u)
	i := slices.IndexFunc(c.Spec.IdentityProviders, func(p v1alpha1.OIDCIdentityProvider) bool { return p.Name == name })
	status := ""
	switch {
	case u.Spec.Type == eks.UpdateTypeDisassociateIdentityProviderConfig:
		if i < 0 || !c.Spec.IdentityProviders[i].Disassociating {
			status = v1alpha1.UpdateSuccessful
		}
	case i < 0 || c.Spec.IdentityProviders[i].Disassociating:
		status = v1alpha1.UpdateCancelled
	case idpStatus(c, c.Spec.IdentityProviders[i]) == eks.ConfigStatusActive:
		status = v1alpha1.UpdateSuccessful
	}
	if status == "" {
		return
	}
	u.Status.Status = status
	if err := s.store.Status().Update(ctx, u); err != nil {
		s.log.Warn("recording the end of an identity provider update", "update", u.Spec.ID, "err", err)
	}
}

// idpParams is the update's parameter, as EKS reports it.
func idpParams(name string) []v1alpha1.UpdateParam {
	b, _ := json.Marshal([]eks.IdentityProviderConfig{{Type: eks.IdentityProviderTypeOIDC, Name: name}}) // strings always marshal
	return []v1alpha1.UpdateParam{{Type: eks.UpdateParamIdentityProviderConfig, Value: string(b)}}
}

// idpNameOf reads the provider's name back from an update's parameter.
func idpNameOf(u *v1alpha1.ClusterUpdate) string {
	for _, p := range u.Spec.Params {
		var refs []eks.IdentityProviderConfig
		if p.Type == eks.UpdateParamIdentityProviderConfig && json.Unmarshal([]byte(p.Value), &refs) == nil && len(refs) == 1 {
			return refs[0].Name
		}
	}
	return ""
}

func providerNamed(c *v1alpha1.Cluster, name string) (v1alpha1.OIDCIdentityProvider, error) {
	i := slices.IndexFunc(c.Spec.IdentityProviders, func(p v1alpha1.OIDCIdentityProvider) bool { return p.Name == name })
	if i < 0 {
		return v1alpha1.OIDCIdentityProvider{}, idpNotFound(name)
	}
	return c.Spec.IdentityProviders[i], nil
}

func idpNotFound(name string) error {
	return errdefs.Publicf(errdefs.ErrNotFound, "No identity provider config found for name: %s.", name)
}

// toWireIDP is a provider as EKS describes it. The issuer's CA, cellplane's
// extension, is not echoed: it is long and the tenant has it.
func (s *server) toWireIDP(account string, c *v1alpha1.Cluster, p v1alpha1.OIDCIdentityProvider) *eks.OidcIdentityProviderConfig {
	tags := maps.Clone(p.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	return &eks.OidcIdentityProviderConfig{
		IdentityProviderConfigName: p.Name,
		IdentityProviderConfigArn:  fmt.Sprintf("arn:cellplane:eks:%s:%s:identityproviderconfig/%s/oidc/%s/%s", s.region, account, c.Spec.Name, p.Name, p.ID),
		ClusterName:                c.Spec.Name,
		IssuerURL:                  p.IssuerURL, ClientID: p.ClientID,
		UsernameClaim: p.UsernameClaim, UsernamePrefix: p.UsernamePrefix,
		GroupsClaim: p.GroupsClaim, GroupsPrefix: p.GroupsPrefix,
		RequiredClaims: p.RequiredClaims, Tags: tags, Status: idpStatus(c, p),
	}
}

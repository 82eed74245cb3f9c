package identityproviders

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/authnconfig"
	"github.com/cellplane/cellplane/internal/clusterupdates"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/paging"
)

// Clusters is what the operations need of the regional API.
type Clusters interface {
	// Cluster fetches the cluster the request's path names, for the
	// request's account.
	Cluster(r *http.Request) (*v1alpha1.Cluster, error)
	// Update applies change to c and stores it; on a conflict it reads c
	// again and applies change afresh. change returns false to store
	// nothing.
	Update(ctx context.Context, c *v1alpha1.Cluster, change func(*v1alpha1.Cluster) (bool, error)) error
	// RequireActive refuses to change a cluster that is not ACTIVE.
	RequireActive(c *v1alpha1.Cluster) error
	// UpdateByToken returns c's update made with token, or nil.
	UpdateByToken(ctx context.Context, c *v1alpha1.Cluster, token, typ string, params []v1alpha1.UpdateParam) (*eks.Update, error)
	// Record stores an update of c in progress.
	Record(ctx context.Context, c *v1alpha1.Cluster, spec v1alpha1.ClusterUpdateSpec) (*eks.Update, error)
	// SetUpdateStatus stores an update's new status.
	SetUpdateStatus(ctx context.Context, u *v1alpha1.ClusterUpdate) error
}

// Operations serves the four operations.
type Operations struct {
	Clusters Clusters
	// Region names the region in ARNs.
	Region string
	// InUse is the API's sentinel for ResourceInUseException.
	InUse error
	Log   *slog.Logger
}

// annotationAssociatedBy holds the clientRequestToken of the
// AssociateIdentityProviderConfig call that stored the cluster's provider:
// its retry after a crash before the update was recorded records it.
const annotationAssociatedBy = "cellplane.io/identity-provider-associated-by"

// Associate serves AssociateIdentityProviderConfig:
// POST /clusters/{name}/identity-provider-configs/associate.
func (o *Operations) Associate(r *http.Request) (any, error) {
	var in eks.AssociateIdentityProviderConfigInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	idp, err := eksinput.IdentityProvider(&in)
	if err != nil {
		return nil, err
	}
	c, err := o.cluster(r)
	if err != nil {
		return nil, err
	}
	typ, params := eks.UpdateTypeAssociateIdentityProviderConfig, Params(idp.Name)
	if u, err := o.Clusters.UpdateByToken(r.Context(), c, in.ClientRequestToken, typ, params); err != nil || u != nil {
		return associateOutput(u, idp.Tags, err)
	}
	idp.ID = clusterupdates.NewUUID()
	err = o.Clusters.Update(r.Context(), c, func(c *v1alpha1.Cluster) (bool, error) {
		if err := o.Clusters.RequireActive(c); err != nil {
			return false, err
		}
		if idp.IssuerURL == c.Status.Endpoint {
			return false, errdefs.Publicf(errdefs.ErrInvalidParameter, "oidc.issuerUrl %s is the cluster's own service account issuer.", idp.IssuerURL)
		}
		return o.add(c, idp, in.ClientRequestToken)
	})
	if err != nil {
		return nil, err
	}
	u, err := o.Clusters.Record(r.Context(), c, v1alpha1.ClusterUpdateSpec{Type: typ, Params: params, ClientRequestToken: in.ClientRequestToken})
	return associateOutput(u, idp.Tags, err)
}

// add adds idp to c, which EKS allows one provider: the same name again is
// in use, another name a request the cluster cannot take.
func (o *Operations) add(c *v1alpha1.Cluster, idp v1alpha1.OIDCIdentityProvider, token string) (bool, error) {
	if len(c.Spec.IdentityProviders) > 0 { // at most one: the CRD's MaxItems
		have := c.Spec.IdentityProviders[0]
		switch {
		case have.Name == idp.Name && token != "" && c.Annotations[annotationAssociatedBy] == token:
			return false, nil // a retry of the call that stored it, cut short before its update
		case have.Name == idp.Name:
			return false, errdefs.Publicf(o.InUse, "Identity provider config %s is already associated with cluster %s.", idp.Name, c.Spec.Name)
		}
		return false, errdefs.Publicf(errdefs.ErrInvalidRequest, "Cluster %s already has identity provider config %s; a cluster can have one: disassociate it first.", c.Spec.Name, have.Name)
	}
	c.Spec.IdentityProviders = append(c.Spec.IdentityProviders, idp)
	if token != "" {
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[annotationAssociatedBy] = token
	}
	return true, nil
}

func associateOutput(u *eks.Update, tags map[string]string, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return eks.AssociateIdentityProviderConfigOutput{Update: u, Tags: tags}, nil
}

// Describe serves DescribeIdentityProviderConfig:
// POST /clusters/{name}/identity-provider-configs/describe.
func (o *Operations) Describe(r *http.Request) (any, error) {
	var in eks.DescribeIdentityProviderConfigInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	name, err := eksinput.IdentityProviderRef(in.IdentityProviderConfig)
	if err != nil {
		return nil, err
	}
	c, err := o.cluster(r)
	if err != nil {
		return nil, err
	}
	i := indexOf(c, name)
	if i < 0 {
		return nil, notFound(name)
	}
	return eks.DescribeIdentityProviderConfigOutput{IdentityProviderConfig: &eks.IdentityProviderConfigResponse{OIDC: o.toWire(c, c.Spec.IdentityProviders[i])}}, nil
}

// List serves ListIdentityProviderConfigs:
// GET /clusters/{name}/identity-provider-configs?maxResults=N&nextToken=T.
func (o *Operations) List(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := paging.ParseLimit(q.Get("maxResults"), eks.MinListIdentityProviderConfigsResults,
		eks.MaxListIdentityProviderConfigsResults, eks.DefaultListIdentityProviderConfigsResults)
	if err != nil {
		return nil, err
	}
	c, err := o.cluster(r)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range c.Spec.IdentityProviders {
		names = append(names, p.Name)
	}
	slices.Sort(names)
	page, next, err := paginate(names, q.Get("nextToken"), limit)
	if err != nil {
		return nil, err
	}
	out := eks.ListIdentityProviderConfigsOutput{IdentityProviderConfigs: []eks.IdentityProviderConfig{}, NextToken: next}
	for _, n := range page {
		out.IdentityProviderConfigs = append(out.IdentityProviderConfigs, eks.IdentityProviderConfig{Type: eks.IdentityProviderTypeOIDC, Name: n})
	}
	return out, nil
}

// Disassociate serves DisassociateIdentityProviderConfig:
// POST /clusters/{name}/identity-provider-configs/disassociate.
func (o *Operations) Disassociate(r *http.Request) (any, error) {
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
	c, err := o.cluster(r)
	if err != nil {
		return nil, err
	}
	typ, params := eks.UpdateTypeDisassociateIdentityProviderConfig, Params(name)
	if u, err := o.Clusters.UpdateByToken(r.Context(), c, in.ClientRequestToken, typ, params); err != nil || u != nil {
		return updateOutput(u, err)
	}
	err = o.Clusters.Update(r.Context(), c, func(c *v1alpha1.Cluster) (bool, error) {
		if err := o.Clusters.RequireActive(c); err != nil {
			return false, err
		}
		i := indexOf(c, name)
		switch {
		case i < 0:
			return false, notFound(name)
		case c.Spec.IdentityProviders[i].Disassociating:
			return false, errdefs.Publicf(o.InUse, "Identity provider config %s is already being disassociated from cluster %s.", name, c.Spec.Name)
		}
		c.Spec.IdentityProviders[i].Disassociating = true
		return true, nil
	})
	if err != nil {
		return nil, err
	}
	return updateOutput(o.Clusters.Record(r.Context(), c, v1alpha1.ClusterUpdateSpec{Type: typ, Params: params, ClientRequestToken: in.ClientRequestToken}))
}

func updateOutput(u *eks.Update, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return eks.UpdateOutput{Update: u}, nil
}

// cluster fetches the cluster a request names, with the providers every
// API server has dropped removed.
func (o *Operations) cluster(r *http.Request) (*v1alpha1.Cluster, error) {
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, err
	}
	return c, o.settle(r.Context(), c)
}

// settle removes the disassociated providers once no API server accepts
// their tokens (Dropped).
func (o *Operations) settle(ctx context.Context, c *v1alpha1.Cluster) error {
	if !Dropped(c) {
		return nil
	}
	return o.Clusters.Update(ctx, c, func(c *v1alpha1.Cluster) (bool, error) {
		if !Dropped(c) {
			return false, nil
		}
		c.Spec.IdentityProviders = authnconfig.Active(c.Spec.IdentityProviders)
		return true, nil
	})
}

// SettleUpdate marks an identity provider update of c done once it took
// effect on every API server: an association once its provider is ACTIVE
// (Cancelled if it was disassociated first), a disassociation once no
// provider of its name is being removed. DescribeUpdate calls it: reading
// is what moves an update, so a region restarted in between still settles it.
func (o *Operations) SettleUpdate(ctx context.Context, c *v1alpha1.Cluster, u *v1alpha1.ClusterUpdate) {
	if u.Status.Status == v1alpha1.UpdateSuccessful || u.Status.Status == v1alpha1.UpdateCancelled ||
		(u.Spec.Type != eks.UpdateTypeAssociateIdentityProviderConfig && u.Spec.Type != eks.UpdateTypeDisassociateIdentityProviderConfig) {
		return
	}
	if err := o.settle(ctx, c); err != nil {
		o.Log.Warn("removing disassociated identity providers", "cluster", c.Spec.Name, "err", err)
		return
	}
	status := outcome(c, u)
	if status == "" {
		return
	}
	u.Status.Status = status
	if err := o.Clusters.SetUpdateStatus(ctx, u); err != nil {
		o.Log.Warn("recording the end of an identity provider update", "update", u.Spec.ID, "err", err)
	}
}

// outcome is the status update u has reached, "" while in progress.
func outcome(c *v1alpha1.Cluster, u *v1alpha1.ClusterUpdate) string {
	i := indexOf(c, nameOf(u))
	switch {
	case u.Spec.Type == eks.UpdateTypeDisassociateIdentityProviderConfig:
		if i < 0 || !c.Spec.IdentityProviders[i].Disassociating {
			return v1alpha1.UpdateSuccessful
		}
	case i < 0 || c.Spec.IdentityProviders[i].Disassociating:
		return v1alpha1.UpdateCancelled
	case Status(c, c.Spec.IdentityProviders[i]) == eks.ConfigStatusActive:
		return v1alpha1.UpdateSuccessful
	}
	return ""
}

// Params is an update's parameter, as EKS reports it.
func Params(name string) []v1alpha1.UpdateParam {
	b, _ := json.Marshal([]eks.IdentityProviderConfig{{Type: eks.IdentityProviderTypeOIDC, Name: name}}) // strings always marshal
	return []v1alpha1.UpdateParam{{Type: eks.UpdateParamIdentityProviderConfig, Value: string(b)}}
}

// nameOf reads the provider's name back from an update's parameter.
func nameOf(u *v1alpha1.ClusterUpdate) string {
	for _, p := range u.Spec.Params {
		var refs []eks.IdentityProviderConfig
		if p.Type == eks.UpdateParamIdentityProviderConfig && json.Unmarshal([]byte(p.Value), &refs) == nil && len(refs) == 1 {
			return refs[0].Name
		}
	}
	return ""
}

func indexOf(c *v1alpha1.Cluster, name string) int {
	return slices.IndexFunc(c.Spec.IdentityProviders, func(p v1alpha1.OIDCIdentityProvider) bool { return p.Name == name })
}

func notFound(name string) error {
	return errdefs.Publicf(errdefs.ErrNotFound, "No identity provider config found for name: %s.", name)
}

// toWire is a provider as EKS describes it. The issuer's CA, cellplane's
// extension, is not echoed: it is long and the tenant has it.
func (o *Operations) toWire(c *v1alpha1.Cluster, p v1alpha1.OIDCIdentityProvider) *eks.OidcIdentityProviderConfig {
	tags := maps.Clone(p.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	return &eks.OidcIdentityProviderConfig{
		IdentityProviderConfigName: p.Name,
		IdentityProviderConfigArn: fmt.Sprintf("arn:cellplane:eks:%s:%s:identityproviderconfig/%s/oidc/%s/%s",
			o.Region, c.Labels[v1alpha1.LabelAccount], c.Spec.Name, p.Name, p.ID),
		ClusterName: c.Spec.Name,
		IssuerURL:   p.IssuerURL, ClientID: p.ClientID,
		UsernameClaim: p.UsernameClaim, UsernamePrefix: p.UsernamePrefix,
		GroupsClaim: p.GroupsClaim, GroupsPrefix: p.GroupsPrefix,
		RequiredClaims: p.RequiredClaims, Tags: tags, Status: Status(c, p),
	}
}

// paginate returns up to limit of the sorted names after the one token
// names, and the token of the next page when there is one.
func paginate(names []string, token string, limit int) ([]string, string, error) {
	start := 0
	if token != "" {
		last, ok := paging.DecodeToken(token)
		if !ok {
			return nil, "", errdefs.Publicf(errdefs.ErrInvalidParameter, "The nextToken is not valid: pass the nextToken of a previous ListIdentityProviderConfigs response unchanged.")
		}
		i, found := slices.BinarySearch(names, last)
		if found {
			i++
		}
		start = i
	}
	end := min(start+limit, len(names))
	page := names[start:end]
	if end == len(names) || len(page) == 0 {
		return page, "", nil
	}
	return page, paging.EncodeToken(page[len(page)-1]), nil
}

package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusterca"
	"github.com/cellplane/cellplane/internal/clusterupdates"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/paging"
)

// caRoutes registers the CA rotation operations. The rules live in
// internal/clusterca; these handlers read, store and answer.
func (s *server) caRoutes(mux *http.ServeMux) {
	const list, one = "/clusters/{name}/certificate-authorities", "/clusters/{name}/certificate-authorities/{caId}"
	mux.HandleFunc("POST "+list, s.handle(s.createCertificateAuthority))
	mux.HandleFunc("GET "+list, s.handle(s.listCertificateAuthorities))
	mux.HandleFunc(list, s.methodNotAllowed("GET, POST"))
	mux.HandleFunc("GET "+one, s.handle(s.describeCertificateAuthority))
	mux.HandleFunc("DELETE "+one, s.handle(s.deleteCertificateAuthority))
	mux.HandleFunc(one, s.methodNotAllowed("GET, DELETE"))
	mux.HandleFunc("POST "+one+"/activate", s.handle(s.activateCertificateAuthority))
	mux.HandleFunc(one+"/activate", s.methodNotAllowed("POST"))
}

// createCertificateAuthority serves CreateCertificateAuthority:
// POST /clusters/{name}/certificate-authorities. The region names the new CA;
// the cell makes it and distributes it.
func (s *server) createCertificateAuthority(r *http.Request) (any, error) {
	token, err := caToken(r)
	if err != nil {
		return nil, err
	}
	id := clusterupdates.NewUUID()
	return s.caStep(r, clusterca.OpCreate, token, id, func(c *v1alpha1.Cluster) (clusterca.CA, error) {
		return clusterca.Create(c, id, time.Now())
	})
}

// activateCertificateAuthority serves ActivateCertificateAuthority:
// POST /clusters/{name}/certificate-authorities/{caId}/activate.
func (s *server) activateCertificateAuthority(r *http.Request) (any, error) {
	token, err := caToken(r)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("caId")
	return s.caStep(r, clusterca.OpActivate, token, id, func(c *v1alpha1.Cluster) (clusterca.CA, error) {
		return clusterca.Activate(c, id, time.Now())
	})
}

// deleteCertificateAuthority serves DeleteCertificateAuthority:
// DELETE /clusters/{name}/certificate-authorities/{caId}?clientRequestToken=T.
func (s *server) deleteCertificateAuthority(r *http.Request) (any, error) {
	token := r.URL.Query().Get("clientRequestToken")
	if err := eksinput.ValidateToken(token); err != nil {
		return nil, err
	}
	id := r.PathValue("caId")
	return s.caStep(r, clusterca.OpDelete, token, id, func(c *v1alpha1.Cluster) (clusterca.CA, error) {
		return clusterca.Delete(c, id)
	})
}

// caStep applies one rotation step to the cluster's spec and records its
// CertificateAuthorityUpdate as InProgress. A retry with the same token
// answers the update it made.
func (s *server) caStep(r *http.Request, op, token, id string, step func(*v1alpha1.Cluster) (clusterca.CA, error)) (any, error) {
	c, err := s.clusterOfRequest(r)
	if err != nil {
		return nil, err
	}
	if out, err := s.caRetry(r.Context(), c, op, token, id); err != nil || out != nil {
		return out, err
	}
	var ca clusterca.CA
	err = s.updateCluster(r.Context(), accountFor(r), c, func(c *v1alpha1.Cluster) error {
		if err := requireActive(c); err != nil {
			return err
		}
		ca, err = step(c)
		return publicCA(err)
	})
	if err != nil {
		return nil, err
	}
	spec := v1alpha1.ClusterUpdateSpec{Type: eks.UpdateTypeCertificateAuthority, Params: clusterca.Params(op, ca.Spec.ID, c), ClientRequestToken: token}
	u, err := s.recordUpdate(r.Context(), c, spec, v1alpha1.UpdateInProgress)
	if err != nil {
		return nil, err
	}
	return eks.CertificateAuthorityUpdateOutput{CertificateAuthority: toWireCASummary(ca), Update: toWireUpdate(u)}, nil
}

// caRetry answers a request whose token made an update already, or nil.
// A token reused for another step or CA is refused.
func (s *server) caRetry(ctx context.Context, c *v1alpha1.Cluster, op, token, id string) (any, error) {
	if token == "" {
		return nil, nil
	}
	ups, err := s.updatesOf(ctx, c)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(ups, func(u v1alpha1.ClusterUpdate) bool { return u.Spec.ClientRequestToken == token })
	if i < 0 {
		return nil, nil
	}
	u := &ups[i]
	made := caParam(u)
	if u.Spec.Type != eks.UpdateTypeCertificateAuthority || (op != clusterca.OpCreate && made != id) || caOp(u) != op {
		return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "The clientRequestToken %s was used for a different update of cluster %s (%s).", token, c.Spec.Name, u.Spec.ID)
	}
	ca, ok := clusterca.Find(c, made)
	if !ok {
		ca = clusterca.CA{Spec: v1alpha1.CertificateAuthority{ID: made}, Status: v1alpha1.CertificateAuthorityStatus{
			Distribution: v1alpha1.CADistributionDeleting, Signing: v1alpha1.CASigningNotUsed}}
	}
	return eks.CertificateAuthorityUpdateOutput{CertificateAuthority: toWireCASummary(ca), Update: toWireUpdate(u)}, nil
}

// caParam is the CA a CertificateAuthorityUpdate concerns.
func caParam(u *v1alpha1.ClusterUpdate) string {
	for _, p := range u.Spec.Params {
		if p.Type == clusterca.ParamCertificateAuthorityID {
			return p.Value
		}
	}
	return ""
}

// caOp is the step a CertificateAuthorityUpdate records.
func caOp(u *v1alpha1.ClusterUpdate) string {
	id := caParam(u)
	for _, p := range u.Spec.Params {
		switch {
		case p.Type == clusterca.ParamActive:
			return clusterca.OpActivate
		case p.Type == clusterca.ParamTrusted && slices.Contains(strings.Split(p.Value, ","), id):
			return clusterca.OpCreate
		}
	}
	return clusterca.OpDelete
}

// describeCertificateAuthority serves DescribeCertificateAuthority:
// GET /clusters/{name}/certificate-authorities/{caId}.
func (s *server) describeCertificateAuthority(r *http.Request) (any, error) {
	c, err := s.clusterOfRequest(r)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("caId")
	ca, ok := clusterca.Find(c, id)
	if !ok {
		return nil, errdefs.Publicf(errdefs.ErrNotFound, "No certificate authority found for ID %s on cluster %s.", id, c.Spec.Name)
	}
	return eks.DescribeCertificateAuthorityOutput{CertificateAuthority: toWireCA(ca)}, nil
}

// listCertificateAuthorities serves ListCertificateAuthorities:
// GET /clusters/{name}/certificate-authorities?maxResults=N&nextToken=T, in
// the trust bundle's order.
func (s *server) listCertificateAuthorities(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := paging.ParseLimit(q.Get("maxResults"), eks.MinListCAResults, eks.MaxListCAResults, eks.DefaultListCAResults)
	if err != nil {
		return nil, err
	}
	c, err := s.clusterOfRequest(r)
	if err != nil {
		return nil, err
	}
	l := clusterca.List(c)
	start, err := caPageStart(l, q.Get("nextToken"))
	if err != nil {
		return nil, err
	}
	out := eks.ListCertificateAuthoritiesOutput{CertificateAuthorities: []eks.CertificateAuthoritySummary{}}
	for _, ca := range l[start:min(start+limit, len(l))] {
		out.CertificateAuthorities = append(out.CertificateAuthorities, *toWireCASummary(ca))
	}
	if start+limit < len(l) {
		out.NextToken = paging.EncodeToken(l[start+limit-1].Spec.ID)
	}
	return out, nil
}

// caPageStart is where the page after token starts.
func caPageStart(l []clusterca.CA, token string) (int, error) {
	if token == "" {
		return 0, nil
	}
	last, ok := paging.DecodeToken(token)
	i := slices.IndexFunc(l, func(ca clusterca.CA) bool { return ca.Spec.ID == last })
	if !ok || i < 0 {
		return 0, errdefs.Publicf(errdefs.ErrInvalidParameter, "The nextToken is not valid: pass the nextToken of a previous ListCertificateAuthorities response for this cluster unchanged.")
	}
	return i + 1, nil
}

// caToken reads the optional body of create and activate.
func caToken(r *http.Request) (string, error) {
	var in eks.CertificateAuthorityInput
	if r.ContentLength != 0 {
		if err := eksinput.DecodeBody(r, &in); err != nil {
			return "", err
		}
	}
	return in.ClientRequestToken, eksinput.ValidateToken(in.ClientRequestToken)
}

// publicCA turns the rules' refusals into errors for the caller.
func publicCA(err error) error {
	var ref *clusterca.Refusal
	if !errors.As(err, &ref) {
		return err
	}
	kind := ref.Kind
	if errors.Is(kind, clusterca.ErrInUse) {
		kind = errResourceInUse
	}
	return &errdefs.PublicError{Kind: kind, Msg: ref.Msg}
}

// certificateOf is DescribeCluster's certificateAuthority: the trust bundle
// and, once the cell reported it, the signer.
func certificateOf(c *v1alpha1.Cluster) *eks.Certificate {
	out := &eks.Certificate{Data: c.Status.CertificateAuthorityData}
	for _, ca := range clusterca.List(c) {
		if ca.Spec.Signer {
			out.Active = &eks.ActiveCertificateAuthority{ID: ca.Spec.ID, ActivatedBy: ca.Spec.ActivatedBy}
		}
	}
	return out
}

func toWireCASummary(ca clusterca.CA) *eks.CertificateAuthoritySummary {
	out := &eks.CertificateAuthoritySummary{
		ID: ca.Spec.ID, CreatedAt: eks.NewTimestamp(ca.Spec.CreatedAt.Time), CreatedBy: ca.Spec.CreatedBy,
		ActivatedBy: ca.Spec.ActivatedBy, SigningStatus: ca.Status.Signing, DistributionStatus: ca.Status.Distribution,
	}
	if ca.Spec.ActivatedAt != nil {
		out.ActivatedAt = eks.NewTimestamp(ca.Spec.ActivatedAt.Time)
	}
	return out
}

func toWireCA(ca clusterca.CA) *eks.CertificateAuthority {
	out := &eks.CertificateAuthority{CertificateAuthoritySummary: *toWireCASummary(ca), Data: ca.Status.Data, RollbackAvailable: ptr(false)}
	if ca.Status.NotBefore != nil && ca.Status.NotAfter != nil {
		out.Validity = &eks.CertificateAuthorityValidity{NotBefore: eks.NewTimestamp(ca.Status.NotBefore.Time), NotAfter: eks.NewTimestamp(ca.Status.NotAfter.Time)}
	}
	return out
}

// settleCA records the outcome of the cluster's CertificateAuthorityUpdates
// in progress, from the state the cell reports: the update of each step is
// decided by the CA it concerns, so no process has to watch for it, and a
// region restarted at any point decides it the same way.
func (s *server) settleCA(ctx context.Context, c *v1alpha1.Cluster, ups []v1alpha1.ClusterUpdate) ([]v1alpha1.ClusterUpdate, error) {
	for i := range ups {
		u := &ups[i]
		if u.Spec.Type != eks.UpdateTypeCertificateAuthority || toWireUpdate(u).Status != eks.UpdateStatusInProgress {
			continue
		}
		outcome := clusterca.Outcome(c, u.Spec.Params)
		if outcome == v1alpha1.UpdateInProgress {
			continue
		}
		u.Status.Status = outcome
		if outcome == v1alpha1.UpdateFailed {
			u.Status.Errors = []v1alpha1.UpdateError{{ErrorCode: "Unknown", ErrorMessage: "The certificate authority changed before this update finished.", ResourceIDs: []string{caParam(u)}}}
		}
		if err := s.store.Status().Update(ctx, u); err != nil {
			return nil, fmt.Errorf("recording outcome of update %s of cluster %s: %w", u.Spec.ID, c.Spec.Name, err)
		}
	}
	return ups, nil
}

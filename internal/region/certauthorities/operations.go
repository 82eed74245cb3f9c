package certauthorities

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

// Clusters is what the operations need of the regional API.
type Clusters interface {
	// Cluster fetches the cluster the request's path names, for the
	// request's account.
	Cluster(r *http.Request) (*v1alpha1.Cluster, error)
	// Updates lists c's update records, settled.
	Updates(ctx context.Context, c *v1alpha1.Cluster) ([]v1alpha1.ClusterUpdate, error)
	// Update applies change to c and stores it, reading c again on a
	// conflict.
	Update(ctx context.Context, c *v1alpha1.Cluster, change func(*v1alpha1.Cluster) error) error
	// RequireActive refuses to change a cluster that is not ACTIVE.
	RequireActive(c *v1alpha1.Cluster) error
	// Record stores an update of c in progress.
	Record(ctx context.Context, c *v1alpha1.Cluster, spec v1alpha1.ClusterUpdateSpec) (*eks.Update, error)
	// Wire renders a stored update as EKS's Update.
	Wire(u *v1alpha1.ClusterUpdate) *eks.Update
}

// Operations serves the five operations.
type Operations struct {
	Clusters Clusters
	// InUse is the API's sentinel for ResourceInUseException.
	InUse error
}

// Create serves CreateCertificateAuthority:
// POST /clusters/{name}/certificate-authorities. The region names the new CA;
// the cell makes it and distributes it.
func (o *Operations) Create(r *http.Request) (any, error) {
	token, err := caToken(r)
	if err != nil {
		return nil, err
	}
	id := clusterupdates.NewUUID()
	return o.step(r, clusterca.OpCreate, token, id, func(c *v1alpha1.Cluster) (clusterca.CA, error) {
		return clusterca.Create(c, id, time.Now())
	})
}

// Activate serves ActivateCertificateAuthority:
// POST /clusters/{name}/certificate-authorities/{caId}/activate.
func (o *Operations) Activate(r *http.Request) (any, error) {
	token, err := caToken(r)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("caId")
	return o.step(r, clusterca.OpActivate, token, id, func(c *v1alpha1.Cluster) (clusterca.CA, error) {
		return clusterca.Activate(c, id, time.Now())
	})
}

// Delete serves DeleteCertificateAuthority:
// DELETE /clusters/{name}/certificate-authorities/{caId}?clientRequestToken=T.
func (o *Operations) Delete(r *http.Request) (any, error) {
	token := r.URL.Query().Get("clientRequestToken")
	if err := eksinput.ValidateToken(token); err != nil {
		return nil, err
	}
	id := r.PathValue("caId")
	return o.step(r, clusterca.OpDelete, token, id, func(c *v1alpha1.Cluster) (clusterca.CA, error) {
		return clusterca.Delete(c, id)
	})
}

// step applies one rotation step to the cluster's spec and records its
// CertificateAuthorityUpdate as InProgress. A retry with the same token
// answers the update it made.
func (o *Operations) step(r *http.Request, op, token, id string, step func(*v1alpha1.Cluster) (clusterca.CA, error)) (any, error) {
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, err
	}
	if out, err := o.retry(r.Context(), c, op, token, id); err != nil || out != nil {
		return out, err
	}
	var ca clusterca.CA
	err = o.Clusters.Update(r.Context(), c, func(c *v1alpha1.Cluster) error {
		if err := o.Clusters.RequireActive(c); err != nil {
			return err
		}
		ca, err = step(c)
		return o.public(err)
	})
	if err != nil {
		return nil, err
	}
	spec := v1alpha1.ClusterUpdateSpec{Type: eks.UpdateTypeCertificateAuthority, Params: clusterca.Params(op, ca.Spec.ID, c), ClientRequestToken: token}
	u, err := o.Clusters.Record(r.Context(), c, spec)
	if err != nil {
		return nil, err
	}
	return eks.CertificateAuthorityUpdateOutput{CertificateAuthority: toWireSummary(ca), Update: u}, nil
}

// retry answers a request whose token made an update already, or nil.
// A token reused for another step or CA is refused.
func (o *Operations) retry(ctx context.Context, c *v1alpha1.Cluster, op, token, id string) (any, error) {
	if token == "" {
		return nil, nil
	}
	ups, err := o.Clusters.Updates(ctx, c)
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
	return eks.CertificateAuthorityUpdateOutput{CertificateAuthority: toWireSummary(ca), Update: o.Clusters.Wire(u)}, nil
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

// Describe serves DescribeCertificateAuthority:
// GET /clusters/{name}/certificate-authorities/{caId}.
func (o *Operations) Describe(r *http.Request) (any, error) {
	c, err := o.Clusters.Cluster(r)
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

// List serves ListCertificateAuthorities:
// GET /clusters/{name}/certificate-authorities?maxResults=N&nextToken=T, in
// the trust bundle's order.
func (o *Operations) List(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := paging.ParseLimit(q.Get("maxResults"), eks.MinListCAResults, eks.MaxListCAResults, eks.DefaultListCAResults)
	if err != nil {
		return nil, err
	}
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, err
	}
	l := clusterca.List(c)
	start, err := pageStart(l, q.Get("nextToken"))
	if err != nil {
		return nil, err
	}
	out := eks.ListCertificateAuthoritiesOutput{CertificateAuthorities: []eks.CertificateAuthoritySummary{}}
	for _, ca := range l[start:min(start+limit, len(l))] {
		out.CertificateAuthorities = append(out.CertificateAuthorities, *toWireSummary(ca))
	}
	if start+limit < len(l) {
		out.NextToken = paging.EncodeToken(l[start+limit-1].Spec.ID)
	}
	return out, nil
}

// pageStart is where the page after token starts.
func pageStart(l []clusterca.CA, token string) (int, error) {
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

// public turns the rules' refusals into errors for the caller.
func (o *Operations) public(err error) error {
	var ref *clusterca.Refusal
	if !errors.As(err, &ref) {
		return err
	}
	kind := ref.Kind
	if errors.Is(kind, clusterca.ErrInUse) {
		kind = o.InUse
	}
	return &errdefs.PublicError{Kind: kind, Msg: ref.Msg}
}

// Certificate is DescribeCluster's certificateAuthority: the trust bundle
// and, once the cell reported it, the signer.
func Certificate(c *v1alpha1.Cluster) *eks.Certificate {
	out := &eks.Certificate{Data: c.Status.CertificateAuthorityData}
	for _, ca := range clusterca.List(c) {
		if ca.Spec.Signer {
			out.Active = &eks.ActiveCertificateAuthority{ID: ca.Spec.ID, ActivatedBy: ca.Spec.ActivatedBy}
		}
	}
	return out
}

func toWireSummary(ca clusterca.CA) *eks.CertificateAuthoritySummary {
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
	rollback := false
	out := &eks.CertificateAuthority{CertificateAuthoritySummary: *toWireSummary(ca), Data: ca.Status.Data, RollbackAvailable: &rollback}
	if ca.Status.NotBefore != nil && ca.Status.NotAfter != nil {
		out.Validity = &eks.CertificateAuthorityValidity{NotBefore: eks.NewTimestamp(ca.Status.NotBefore.Time), NotAfter: eks.NewTimestamp(ca.Status.NotAfter.Time)}
	}
	return out
}

// Settle records the outcome of the cluster's CertificateAuthorityUpdates
// in progress, from the state the cell reports: the update of each step is
// decided by the CA it concerns, so no process has to watch for it, and a
// region restarted at any point decides it the same way. store writes an
// update's status.
func Settle(ctx context.Context, c *v1alpha1.Cluster, ups []v1alpha1.ClusterUpdate, store func(context.Context, *v1alpha1.ClusterUpdate) error) ([]v1alpha1.ClusterUpdate, error) {
	for i := range ups {
		u := &ups[i]
		// An update whose status write was lost reads as InProgress, which is what it was.
		if u.Spec.Type != eks.UpdateTypeCertificateAuthority || (u.Status.Status != "" && u.Status.Status != v1alpha1.UpdateInProgress) {
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
		if err := store(ctx, u); err != nil {
			return nil, fmt.Errorf("recording outcome of update %s of cluster %s: %w", u.Spec.ID, c.Spec.Name, err)
		}
	}
	return ups, nil
}

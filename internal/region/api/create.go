package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusternames"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/quota"
)

// annotationEKSRequest holds the JSON of the create request's fields that
// cellplane stores only to echo (see eksinput.Echoed).
const annotationEKSRequest = "cellplane.io/eks-create-request"

// createCluster serves CreateCluster: POST /clusters.
func (s *server) createCluster(r *http.Request) (any, error) {
	var in eks.CreateClusterInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	noteCluster(r, in.Name)
	account := accountFor(r)
	want, err := newCluster(account, &in)
	if err != nil {
		return nil, err
	}
	if err := s.withEncryption(r.Context(), account, &in, want); err != nil {
		return nil, err
	}
	got, err := s.createOrAdopt(r.Context(), want)
	if err != nil {
		return nil, err
	}
	if err := s.entries.Bootstrap(r.Context(), got); err != nil {
		return nil, err
	}
	if err := s.addons.Bootstrap(r.Context(), got, in.BootstrapSelfManagedAddons == nil || *in.BootstrapSelfManagedAddons); err != nil {
		return nil, err
	}
	return eks.ClusterOutput{Cluster: s.toWire(account, got)}, nil
}

// newCluster validates a request and builds the object it asks for, not yet placed.
func newCluster(account string, in *eks.CreateClusterInput) (*v1alpha1.Cluster, error) {
	minor, err := eksinput.ValidateCreate(in)
	if err != nil {
		return nil, err
	}
	echo, err := eksinput.EchoOf(in)
	if err != nil {
		return nil, err
	}
	c := &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{
			Name:       v1alpha1.ObjectName(in.Name),
			Namespace:  v1alpha1.Namespace(account),
			Labels:     map[string]string{v1alpha1.LabelAccount: account},
			Finalizers: []string{v1alpha1.RegionFinalizer},
		},
		Spec: v1alpha1.ClusterSpec{Name: in.Name, Version: minor, Tags: in.Tags, ClientRequestToken: in.ClientRequestToken},
	}
	if in.DeletionProtection != nil {
		c.Spec.DeletionProtection = *in.DeletionProtection
	}
	if c.Spec.UpgradePolicy, err = upgradePolicyOf(in.UpgradePolicy); err != nil {
		return nil, err
	}
	if c.Spec.AccessConfig, err = eksinput.AccessConfig(in.AccessConfig); err != nil {
		return nil, err
	}
	if in.Cellplane != nil {
		c.Spec.EtcdQuotaBytes = in.Cellplane.EtcdQuotaBytes
		if fb := in.Cellplane.FromBackup; fb != nil {
			c.Spec.RestoreFrom = &v1alpha1.RestoreSource{Cluster: fb.Cluster, Set: fb.Set, Revision: fb.Revision}
		}
	}
	if echo != "" {
		c.Annotations = map[string]string{annotationEKSRequest: echo}
	}
	return c, nil
}

// createOrAdopt stores want unless an object of that name exists already, in
// which case the request is either a retry (answered with the existing cluster)
// or a conflict.
func (s *server) createOrAdopt(ctx context.Context, want *v1alpha1.Cluster) (*v1alpha1.Cluster, error) {
	existing, err := s.getStored(ctx, want)
	if err != nil || existing != nil {
		return adoptOrRefuse(existing, want, err)
	}
	ns, err := s.accountNamespace(ctx, want.Namespace)
	if err != nil {
		return nil, err
	}
	// The account's quota, then placement: a request refused by either leaves
	// nothing behind.
	stored, err := s.quota.Reserve(ctx, ns, want)
	if err != nil {
		return nil, quotaError(want, err)
	}
	created := false
	defer func() { stored(created) }()
	done, err := s.place(ctx, want)
	if err != nil {
		return nil, err
	}
	defer done()
	if err := s.ensureNamespace(ctx, ns, want.Namespace, want.Labels[v1alpha1.LabelAccount]); err != nil {
		return nil, err
	}
	err = s.store.Create(ctx, want)
	if apierrors.IsAlreadyExists(err) {
		// A concurrent request created it first: answer as if this one came second.
		existing, err = s.getStored(ctx, want)
		return adoptOrRefuse(existing, want, err)
	}
	if err != nil {
		return nil, fmt.Errorf("storing cluster %s: %w", want.Spec.Name, err)
	}
	created = true
	s.log.Info("created cluster", "cluster", want.Spec.Name, "cell", want.Spec.Cell, "account", want.Labels[v1alpha1.LabelAccount])
	s.fresh.Wrote(objectKey(want), want.ResourceVersion)
	s.awaitCached(ctx, want)
	return want, nil
}

// getStored returns the object stored under want's name, or nil when there is none.
func (s *server) getStored(ctx context.Context, want *v1alpha1.Cluster) (*v1alpha1.Cluster, error) {
	var got v1alpha1.Cluster
	err := s.store.Get(ctx, objectKey(want), &got)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("looking up cluster %s: %w", want.Spec.Name, err)
	}
	return &got, nil
}

// adoptOrRefuse decides what an existing object means for a create request.
func adoptOrRefuse(existing, want *v1alpha1.Cluster, err error) (*v1alpha1.Cluster, error) {
	name := want.Spec.Name
	switch {
	case err != nil:
		return nil, err
	case existing == nil:
		// Created and deleted again while this request ran.
		return nil, errdefs.Publicf(errdefs.ErrAlreadyExists, "Cluster %s was changed by another request; retry.", name)
	case existing.Spec.Name != name:
		return nil, errdefs.Publicf(errdefs.ErrAlreadyExists, "The cluster name %s cannot be used in this account: it is stored under the same object name as cluster %s. Choose another name.", name, existing.Spec.Name)
	case existing.DeletionTimestamp != nil:
		return nil, errdefs.Publicf(errdefs.ErrAlreadyExists, "Cluster already exists with name: %s. It is being deleted; retry once the deletion completes.", name)
	case sameRequest(existing, want):
		return existing, nil
	case want.Spec.ClientRequestToken != "" && existing.Spec.ClientRequestToken == want.Spec.ClientRequestToken:
		return nil, errdefs.Publicf(errdefs.ErrAlreadyExists, "Cluster already exists with name: %s. It was created with this clientRequestToken but different parameters.", name)
	}
	return nil, errdefs.Publicf(errdefs.ErrAlreadyExists, "Cluster already exists with name: %s", name)
}

// sameRequest reports whether existing was created by a request identical to the
// one that built want: the idempotent retry the clientRequestToken exists for.
func sameRequest(existing, want *v1alpha1.Cluster) bool {
	return want.Spec.ClientRequestToken != "" &&
		existing.Spec.ClientRequestToken == want.Spec.ClientRequestToken &&
		existing.Spec.Version == want.Spec.Version &&
		existing.Spec.EtcdQuotaBytes == want.Spec.EtcdQuotaBytes &&
		existing.Spec.DeletionProtection == want.Spec.DeletionProtection &&
		sameAccessConfig(existing.Spec.AccessConfig, want.Spec.AccessConfig) &&
		sameRestore(existing.Spec.RestoreFrom, want.Spec.RestoreFrom) &&
		sameKey(existing.Spec.Encryption, want.Spec.Encryption) &&
		maps.Equal(existing.Spec.Tags, want.Spec.Tags) &&
		existing.Annotations[annotationEKSRequest] == want.Annotations[annotationEKSRequest]
}

func sameRestore(a, b *v1alpha1.RestoreSource) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// place asks the Placer for a cell and records it in the spec and in the label
// that cell agents select their clusters by. The caller calls done once the
// cluster is stored (or not).
func (s *server) place(ctx context.Context, c *v1alpha1.Cluster) (done func(), err error) {
	cell, done, err := s.placer.Place(ctx, c)
	if err == nil && cell == "" {
		done()
		err = errors.New("placer chose no cell")
	}
	// The cells' names and loads are the operator's business, not the tenant's:
	// the details go to the log, the caller gets what it can act on.
	switch {
	case errors.Is(err, errdefs.ErrLimitExceeded):
		s.log.Warn("no cell has room", "cluster", c.Spec.Name, "error", err)
		return nil, &errdefs.PublicError{Kind: err, Msg: fmt.Sprintf("Cluster %s cannot be placed: every cell of this region is full or draining. Retry later or ask the operator to add capacity.", c.Spec.Name)}
	case errors.Is(err, errdefs.ErrUnavailable):
		s.log.Warn("no reachable cell has room", "cluster", c.Spec.Name, "error", err)
		return nil, &errdefs.PublicError{Kind: err, Msg: fmt.Sprintf("Cluster %s cannot be placed right now: no cell with room is reachable. Retry in a minute.", c.Spec.Name)}
	}
	if err != nil {
		return nil, fmt.Errorf("placing cluster %s: %w", c.Spec.Name, err)
	}
	c.Spec.Cell = cell
	c.Labels[v1alpha1.LabelCell] = cell
	s.log.LogAttrs(ctx, slog.LevelDebug, "placed cluster", slog.String("cluster", c.Spec.Name), slog.String("cell", cell))
	return done, nil
}

// quotaError words a refusal of the account's cluster quota for the caller.
func quotaError(want *v1alpha1.Cluster, err error) error {
	var ex *quota.Exceeded
	if !errors.As(err, &ex) {
		return err
	}
	return &errdefs.PublicError{Kind: err, Msg: fmt.Sprintf("Cluster %s cannot be created: account %s has %d clusters in this region and may have at most %d. Delete a cluster (deleting ones count until they are gone) or ask the operator to raise the limit.",
		want.Spec.Name, ex.Account, ex.Used, ex.Limit)}
}

// indexOf is the name index as the quota's index: nil stays nil (an interface
// holding a nil pointer would not), so the quota lists the store instead.
func indexOf(names *clusternames.Index) quota.Index {
	if names == nil {
		return nil
	}
	return names
}

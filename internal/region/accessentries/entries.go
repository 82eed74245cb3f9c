package accessentries

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/paging"
)

// Create serves CreateAccessEntry: POST /clusters/{name}/access-entries.
func (o *Operations) Create(r *http.Request) (any, error) {
	var in eks.CreateAccessEntryInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	spec, err := o.entrySpecOf(r, &in)
	if err != nil {
		return nil, err
	}
	c, err := o.entryCluster(r, true)
	if err != nil {
		return nil, err
	}
	if err := o.requirePrincipal(r.Context(), spec.PrincipalARN); err != nil {
		return nil, err
	}
	spec.ClusterName = c.Spec.Name
	e, err := o.storeEntry(r.Context(), c, spec)
	if err != nil {
		return nil, err
	}
	o.Log.Info("created access entry", "cluster", c.Spec.Name, "principal", spec.PrincipalARN)
	return eks.AccessEntryOutput{AccessEntry: o.toWireEntry(o.Clusters.Account(r), e)}, nil
}

// entrySpecOf validates a CreateAccessEntry request and builds the entry it
// asks for, defaults filled in.
func (o *Operations) entrySpecOf(r *http.Request, in *eks.CreateAccessEntryInput) (v1alpha1.AccessEntrySpec, error) {
	p, err := eksinput.ParsePrincipal(in.PrincipalArn)
	if err != nil {
		return v1alpha1.AccessEntrySpec{}, err
	}
	if p.Account != o.Clusters.Account(r) {
		return v1alpha1.AccessEntrySpec{}, errdefs.Publicf(errdefs.ErrInvalidParameter,
			"The principalArn %s belongs to another account: an access entry can only name a principal of the cluster's own account.", p.ARN)
	}
	typ, err := eksinput.EntryType(in.Type)
	if err != nil {
		return v1alpha1.AccessEntrySpec{}, err
	}
	username := in.Username
	if username == "" {
		username = eksinput.DefaultUsername(p)
	} else if err := eksinput.ValidateUsername(username, p); err != nil {
		return v1alpha1.AccessEntrySpec{}, err
	}
	for _, check := range []error{eksinput.ValidateGroups(in.KubernetesGroups), eksinput.ValidateTags(in.Tags), eksinput.ValidateToken(in.ClientRequestToken)} {
		if check != nil {
			return v1alpha1.AccessEntrySpec{}, check
		}
	}
	now := metav1.Now()
	return v1alpha1.AccessEntrySpec{
		PrincipalARN: p.ARN, Type: typ, Username: username, KubernetesGroups: dedupe(in.KubernetesGroups),
		Tags: in.Tags, CreatedAt: now, ModifiedAt: now,
	}, nil
}

// requirePrincipal refuses an entry for a principal that does not exist.
func (o *Operations) requirePrincipal(ctx context.Context, arn string) error {
	ok, err := o.principals().Exists(ctx, arn)
	if err != nil {
		return fmt.Errorf("looking up principal %s: %w", arn, err)
	}
	if !ok {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "The specified principalArn is invalid: no IAM user or role %s exists.", arn)
	}
	return nil
}

// storeEntry creates the entry object. One left behind by an earlier cluster
// of the same name (the region store has no garbage collector) is replaced.
func (o *Operations) storeEntry(ctx context.Context, c *v1alpha1.Cluster, spec v1alpha1.AccessEntrySpec) (*v1alpha1.AccessEntry, error) {
	for range 2 {
		e := NewObject(c, spec)
		err := o.Store.Create(ctx, e)
		if err == nil {
			return e, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("storing access entry of %s: %w", spec.PrincipalARN, err)
		}
		_, err = o.getEntry(ctx, c, spec.PrincipalARN)
		if err == nil {
			return nil, errdefs.Publicf(errdefs.ErrAlreadyExists, "The specified access entry resource is already in use on this cluster.")
		}
		if !errors.Is(err, errdefs.ErrNotFound) {
			return nil, err
		}
		stale := &v1alpha1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: entryObjectName(c, spec.PrincipalARN)}}
		if err := o.Store.Delete(ctx, stale); client.IgnoreNotFound(err) != nil {
			return nil, fmt.Errorf("deleting stale access entry of %s: %w", spec.PrincipalARN, err)
		}
	}
	return nil, errdefs.Publicf(o.InUse, "The access entry of %s was changed by another request; retry.", spec.PrincipalARN)
}

// NewObject builds the stored entry of a cluster: labelled with the
// cluster and cell, so the agent deletes it with the cluster and the cell
// mirrors it, and owned by the cluster's UID, so an entry of an earlier
// cluster of the same name never counts for this one.
func NewObject(c *v1alpha1.Cluster, spec v1alpha1.AccessEntrySpec) *v1alpha1.AccessEntry {
	e := &v1alpha1.AccessEntry{
		ObjectMeta: metav1.ObjectMeta{
			Name:      entryObjectName(c, spec.PrincipalARN),
			Namespace: c.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelAccount: c.Labels[v1alpha1.LabelAccount],
				v1alpha1.LabelCluster: c.Name,
				v1alpha1.LabelCell:    c.Spec.Cell,
			},
		},
		Spec: spec,
	}
	if c.UID != "" {
		e.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: v1alpha1.GroupVersion.String(), Kind: "Cluster", Name: c.Name, UID: c.UID,
		}}
	}
	return e
}

// entryObjectName names the object of a cluster's entry for a principal: a
// hash, since ARNs are no object names, and deterministic, so the store
// itself refuses a second entry for the same principal.
func entryObjectName(c *v1alpha1.Cluster, principal string) string {
	sum := sha256.Sum256([]byte(c.Name + "\n" + principal))
	return "ae-" + hex.EncodeToString(sum[:16])
}

// getEntry reads a cluster's entry for a principal.
func (o *Operations) getEntry(ctx context.Context, c *v1alpha1.Cluster, principal string) (*v1alpha1.AccessEntry, error) {
	var e v1alpha1.AccessEntry
	err := o.Store.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: entryObjectName(c, principal)}, &e)
	if apierrors.IsNotFound(err) || (err == nil && (e.Spec.PrincipalARN != principal || !entryOf(&e, c))) {
		return nil, entryNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("getting access entry of %s: %w", principal, err)
	}
	return &e, nil
}

// entryOf reports whether e belongs to this incarnation of c.
func entryOf(e *v1alpha1.AccessEntry, c *v1alpha1.Cluster) bool {
	if c.UID == "" {
		return true
	}
	return slices.ContainsFunc(e.OwnerReferences, func(ref metav1.OwnerReference) bool { return ref.UID == c.UID })
}

// entryNotFound is EKS's answer for an unknown entry, word for word.
func entryNotFound() error {
	return errdefs.Publicf(errdefs.ErrNotFound, "The specified principalArn could not be found. You can view your available access entries with 'list-access-entries'.")
}

// entryCluster fetches the cluster of an access-entry request and refuses a
// cluster whose authentication mode ignores entries; change also refuses a
// cluster being deleted.
func (o *Operations) entryCluster(r *http.Request, change bool) (*v1alpha1.Cluster, error) {
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, err
	}
	if Mode(c) == v1alpha1.AuthenticationModeConfigMap {
		return nil, errdefs.Publicf(errdefs.ErrInvalidRequest, "The cluster's authentication mode must be set to one of [API, API_AND_CONFIG_MAP] to perform this operation.")
	}
	if change && c.DeletionTimestamp != nil {
		return nil, errdefs.Publicf(o.InUse, "Cluster %s is being deleted; its access entries cannot be changed.", c.Spec.Name)
	}
	return c, nil
}

// entryOfRequest fetches the entry the path names.
func (o *Operations) entryOfRequest(r *http.Request, change bool) (*v1alpha1.Cluster, *v1alpha1.AccessEntry, error) {
	c, err := o.entryCluster(r, change)
	if err != nil {
		return nil, nil, err
	}
	e, err := o.getEntry(r.Context(), c, r.PathValue("principalArn"))
	return c, e, err
}

// Describe serves DescribeAccessEntry: GET /clusters/{name}/access-entries/{principalArn}.
func (o *Operations) Describe(r *http.Request) (any, error) {
	_, e, err := o.entryOfRequest(r, false)
	if err != nil {
		return nil, err
	}
	return eks.AccessEntryOutput{AccessEntry: o.toWireEntry(o.Clusters.Account(r), e)}, nil
}

// Update serves UpdateAccessEntry: POST /clusters/{name}/access-entries/{principalArn}.
func (o *Operations) Update(r *http.Request) (any, error) {
	var in eks.UpdateAccessEntryInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	if err := eksinput.ValidateToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	if in.KubernetesGroups != nil {
		if err := eksinput.ValidateGroups(*in.KubernetesGroups); err != nil {
			return nil, err
		}
	}
	c, e, err := o.entryOfRequest(r, true)
	if err != nil {
		return nil, err
	}
	if in.Username != nil {
		p, _ := eksinput.ParsePrincipal(e.Spec.PrincipalARN) // stored entries parse
		if err := eksinput.ValidateUsername(*in.Username, p); err != nil {
			return nil, err
		}
	}
	err = o.editEntry(r.Context(), c, e, func(spec *v1alpha1.AccessEntrySpec) bool {
		changed := false
		if in.Username != nil && *in.Username != spec.Username {
			spec.Username, changed = *in.Username, true
		}
		if in.KubernetesGroups != nil && !slices.Equal(dedupe(*in.KubernetesGroups), spec.KubernetesGroups) {
			spec.KubernetesGroups, changed = dedupe(*in.KubernetesGroups), true
		}
		if changed {
			spec.ModifiedAt = metav1.Now()
		}
		return changed
	})
	if err != nil {
		return nil, err
	}
	return eks.AccessEntryOutput{AccessEntry: o.toWireEntry(o.Clusters.Account(r), e)}, nil
}

// editEntry applies edit to e and stores it, reading it again on a conflict.
// edit reports whether it changed anything.
func (o *Operations) editEntry(ctx context.Context, c *v1alpha1.Cluster, e *v1alpha1.AccessEntry, edit func(*v1alpha1.AccessEntrySpec) bool) error {
	first := true
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			fresh, err := o.getEntry(ctx, c, e.Spec.PrincipalARN)
			if err != nil {
				return err
			}
			*e = *fresh
		}
		first = false
		if !edit(&e.Spec) {
			return nil
		}
		if err := o.Store.Update(ctx, e); err != nil {
			if apierrors.IsNotFound(err) {
				return entryNotFound()
			}
			return fmt.Errorf("storing access entry of %s: %w", e.Spec.PrincipalARN, err)
		}
		return nil
	})
}

// Delete serves DeleteAccessEntry: DELETE /clusters/{name}/access-entries/{principalArn}.
func (o *Operations) Delete(r *http.Request) (any, error) {
	c, e, err := o.entryOfRequest(r, true)
	if err != nil {
		return nil, err
	}
	err = o.Store.Delete(r.Context(), e, client.Preconditions{UID: &e.UID})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil, entryNotFound()
	}
	if err != nil {
		return nil, fmt.Errorf("deleting access entry of %s: %w", e.Spec.PrincipalARN, err)
	}
	o.Log.Info("deleted access entry", "cluster", c.Spec.Name, "principal", e.Spec.PrincipalARN)
	return eks.EmptyOutput{}, nil
}

// List serves ListAccessEntries: GET
// /clusters/{name}/access-entries?associatedPolicyArn=A&maxResults=N&nextToken=T.
// Pages are cut from the principal ARNs in byte order.
func (o *Operations) List(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, after, err := pageOf(r)
	if err != nil {
		return nil, err
	}
	policy := q.Get("associatedPolicyArn")
	if policy != "" {
		if _, err := eksinput.Policy(policy); err != nil {
			return nil, err
		}
	}
	c, err := o.entryCluster(r, false)
	if err != nil {
		return nil, err
	}
	entries, err := o.entriesOf(r.Context(), c)
	if err != nil {
		return nil, err
	}
	arns := make([]string, 0, len(entries))
	for _, e := range entries {
		if policy == "" || slices.ContainsFunc(e.Spec.AccessPolicies, func(p v1alpha1.AssociatedAccessPolicy) bool { return p.PolicyARN == policy }) {
			arns = append(arns, e.Spec.PrincipalARN)
		}
	}
	slices.Sort(arns)
	page, next := paging.Page(arns, after, limit)
	return eks.ListAccessEntriesOutput{AccessEntries: page, NextToken: next}, nil
}

// entriesOf lists a cluster's entries.
func (o *Operations) entriesOf(ctx context.Context, c *v1alpha1.Cluster) ([]v1alpha1.AccessEntry, error) {
	var list v1alpha1.AccessEntryList
	err := o.Store.List(ctx, &list, client.InNamespace(c.Namespace), client.MatchingLabels{v1alpha1.LabelCluster: c.Name})
	if err != nil {
		return nil, fmt.Errorf("listing access entries of cluster %s: %w", c.Spec.Name, err)
	}
	return slices.DeleteFunc(list.Items, func(e v1alpha1.AccessEntry) bool { return !entryOf(&e, c) }), nil
}

// pageOf reads maxResults and nextToken of the access list operations; the
// token holds the last item of the previous page.
func pageOf(r *http.Request) (limit int, after string, err error) {
	q := r.URL.Query()
	limit, err = paging.ParseLimit(q.Get("maxResults"), eks.MinListAccessResults, eks.MaxListAccessResults, eks.DefaultListAccessResults)
	if err != nil {
		return 0, "", err
	}
	if t := q.Get("nextToken"); t != "" {
		last, ok := paging.DecodeToken(t)
		if !ok || last == "" {
			return 0, "", errdefs.Publicf(errdefs.ErrInvalidParameter, "The nextToken is not valid: pass the nextToken of a previous response of the same operation unchanged.")
		}
		after = last
	}
	return limit, after, nil
}

// toWireEntry renders a stored entry as EKS's AccessEntry.
func (o *Operations) toWireEntry(account string, e *v1alpha1.AccessEntry) *eks.AccessEntry {
	p, _ := eksinput.ParsePrincipal(e.Spec.PrincipalARN)
	tags := maps.Clone(e.Spec.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	return &eks.AccessEntry{
		ClusterName:      e.Spec.ClusterName,
		PrincipalArn:     e.Spec.PrincipalARN,
		KubernetesGroups: append([]string{}, e.Spec.KubernetesGroups...),
		AccessEntryArn: fmt.Sprintf("arn:cellplane:eks:%s:%s:access-entry/%s/%s/%s/%s/%s",
			o.Region, account, e.Spec.ClusterName, p.Kind, p.Account, p.Name, e.UID),
		CreatedAt:  eks.NewTimestamp(e.Spec.CreatedAt.Time),
		ModifiedAt: eks.NewTimestamp(e.Spec.ModifiedAt.Time),
		Tags:       tags,
		Username:   e.Spec.Username,
		Type:       e.Spec.Type,
	}
}

// dedupe drops repeated names, keeping the first of each; nil for none.
func dedupe(names []string) []string {
	var out []string
	for _, n := range names {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

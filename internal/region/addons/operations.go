package addons

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
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
}

// Operations serves the add-on operations.
type Operations struct {
	Clusters Clusters
	// Store holds the add-ons, next to their clusters, and their updates.
	Store client.Client
	// Region names the region in ARNs.
	Region string
	// Platform is the platform version every cluster reports.
	Platform string
	// InUse is the API's sentinel for ResourceInUseException.
	InUse error
	Log   *slog.Logger
}

// annotationCreatedBy holds the clientRequestToken of the CreateAddon call
// that stored the add-on, so its retry answers with the add-on instead of
// ResourceInUseException.
const annotationCreatedBy = "cellplane.io/addon-created-by"

// Create serves CreateAddon: POST /clusters/{name}/addons.
func (o *Operations) Create(r *http.Request) (any, error) {
	var in eks.CreateAddonInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, err
	}
	spec, err := specOf(c, &in)
	if err != nil {
		return nil, err
	}
	if c.DeletionTimestamp != nil {
		return nil, errdefs.Publicf(o.InUse, "Cluster %s is being deleted; add-ons cannot be created on it.", c.Spec.Name)
	}
	a, err := o.store(r.Context(), c, spec, in.ClientRequestToken)
	if err != nil {
		return nil, err
	}
	o.Log.Info("created add-on", "cluster", c.Spec.Name, "addon", spec.AddonName, "version", spec.AddonVersion)
	return eks.AddonOutput{Addon: o.toWire(c, a)}, nil
}

// specOf validates a CreateAddon request against the cluster's minor and
// builds the add-on it asks for, defaults filled in.
func specOf(c *v1alpha1.Cluster, in *eks.CreateAddonInput) (v1alpha1.AddonSpec, error) {
	if err := knownAddon(in.AddonName, c.Spec.Version); err != nil {
		return v1alpha1.AddonSpec{}, err
	}
	v, err := version(in.AddonName, c.Spec.Version, in.AddonVersion)
	if err != nil {
		return v1alpha1.AddonSpec{}, err
	}
	resolve, err := resolveConflicts(in.ResolveConflicts)
	if err != nil {
		return v1alpha1.AddonSpec{}, err
	}
	for _, check := range []error{
		configuration(in.AddonName, in.ConfigurationValues), roleArn(in.ServiceAccountRoleArn),
		eksinput.ValidateTags(in.Tags), eksinput.ValidateToken(in.ClientRequestToken),
	} {
		if check != nil {
			return v1alpha1.AddonSpec{}, check
		}
	}
	now := metav1.Now()
	return v1alpha1.AddonSpec{
		ClusterName: c.Spec.Name, AddonName: in.AddonName, AddonVersion: v, ID: clusterupdates.NewUUID(),
		ResolveConflicts: resolve, ConfigurationValues: in.ConfigurationValues, Tags: in.Tags,
		CreatedAt: now, ModifiedAt: now,
	}, nil
}

// store creates the add-on object. One left behind by an earlier cluster of
// the same name (the region store has no garbage collector) is replaced; a
// retry of the call that created it gets the add-on.
func (o *Operations) store(ctx context.Context, c *v1alpha1.Cluster, spec v1alpha1.AddonSpec, token string) (*v1alpha1.Addon, error) {
	for range 2 {
		a := NewObject(c, spec)
		if token != "" {
			a.Annotations = map[string]string{annotationCreatedBy: token}
		}
		err := o.Store.Create(ctx, a)
		if err == nil {
			return a, nil
		}
		if !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("storing add-on %s: %w", spec.AddonName, err)
		}
		have, err := o.get(ctx, c, spec.AddonName)
		switch {
		case err == nil && token != "" && have.Annotations[annotationCreatedBy] == token:
			return have, nil
		case err == nil:
			return nil, errdefs.Publicf(o.InUse, "Addon %s already exists on cluster %s.", spec.AddonName, c.Spec.Name)
		case !errors.Is(err, errdefs.ErrNotFound):
			return nil, err
		}
		if err := o.deleteStale(ctx, c, spec.AddonName); err != nil {
			return nil, err
		}
	}
	return nil, errdefs.Publicf(o.InUse, "Addon %s was changed by another request; retry.", spec.AddonName)
}

// deleteStale removes an add-on object of an earlier cluster of the same
// name, releasing the finalizer nobody else will.
func (o *Operations) deleteStale(ctx context.Context, c *v1alpha1.Cluster, name string) error {
	stale := &v1alpha1.Addon{}
	key := client.ObjectKey{Namespace: c.Namespace, Name: v1alpha1.AddonObjectName(c.Name, name)}
	if err := o.Store.Get(ctx, key, stale); err != nil {
		return client.IgnoreNotFound(err)
	}
	stale.Finalizers = nil
	if err := o.Store.Update(ctx, stale); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("releasing stale add-on %s: %w", name, err)
	}
	if err := o.Store.Delete(ctx, stale); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting stale add-on %s: %w", name, err)
	}
	return nil
}

// NewObject builds the stored add-on of a cluster: labelled with the
// cluster and cell, so the cell mirrors it, owned by the cluster's UID, so
// an add-on of an earlier cluster of the same name never counts for this
// one, and held by a finalizer until the cell has removed its objects.
func NewObject(c *v1alpha1.Cluster, spec v1alpha1.AddonSpec) *v1alpha1.Addon {
	a := &v1alpha1.Addon{
		ObjectMeta: metav1.ObjectMeta{
			Name:      v1alpha1.AddonObjectName(c.Name, spec.AddonName),
			Namespace: c.Namespace,
			Labels: map[string]string{
				v1alpha1.LabelAccount: c.Labels[v1alpha1.LabelAccount],
				v1alpha1.LabelCluster: c.Name,
				v1alpha1.LabelCell:    c.Spec.Cell,
			},
			Finalizers: []string{v1alpha1.AddonFinalizer},
		},
		Spec: spec,
	}
	if c.UID != "" {
		a.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: v1alpha1.GroupVersion.String(), Kind: "Cluster", Name: c.Name, UID: c.UID,
		}}
	}
	return a
}

// get reads a cluster's add-on of a name.
func (o *Operations) get(ctx context.Context, c *v1alpha1.Cluster, name string) (*v1alpha1.Addon, error) {
	var a v1alpha1.Addon
	err := o.Store.Get(ctx, client.ObjectKey{Namespace: c.Namespace, Name: v1alpha1.AddonObjectName(c.Name, name)}, &a)
	if apierrors.IsNotFound(err) || (err == nil && (a.Spec.AddonName != name || !addonOf(&a, c))) {
		return nil, notFound(c, name)
	}
	if err != nil {
		return nil, fmt.Errorf("getting add-on %s: %w", name, err)
	}
	return &a, nil
}

// addonOf reports whether a belongs to this incarnation of c.
func addonOf(a *v1alpha1.Addon, c *v1alpha1.Cluster) bool {
	if c.UID == "" {
		return true
	}
	return slices.ContainsFunc(a.OwnerReferences, func(ref metav1.OwnerReference) bool { return ref.UID == c.UID })
}

func notFound(c *v1alpha1.Cluster, name string) error {
	return errdefs.Publicf(errdefs.ErrNotFound, "No addon: %s found in cluster: %s.", name, c.Spec.Name)
}

// ofRequest fetches the cluster and the add-on the path names.
func (o *Operations) ofRequest(r *http.Request) (*v1alpha1.Cluster, *v1alpha1.Addon, error) {
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, nil, err
	}
	a, err := o.get(r.Context(), c, r.PathValue("addonName"))
	return c, a, err
}

// Require answers ListUpdates and DescribeUpdate called with an addonName
// the cluster has no add-on of.
func (o *Operations) Require(ctx context.Context, c *v1alpha1.Cluster, name string) error {
	_, err := o.get(ctx, c, name)
	return err
}

// Describe serves DescribeAddon: GET /clusters/{name}/addons/{addonName}.
func (o *Operations) Describe(r *http.Request) (any, error) {
	c, a, err := o.ofRequest(r)
	if err != nil {
		return nil, err
	}
	return eks.AddonOutput{Addon: o.toWire(c, a)}, nil
}

// List serves ListAddons: GET /clusters/{name}/addons?maxResults=N&nextToken=T.
func (o *Operations) List(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := paging.ParseLimit(q.Get("maxResults"), eks.MinListAddonsResults, eks.MaxListAddonsResults, eks.DefaultListAddonsResults)
	if err != nil {
		return nil, err
	}
	after := ""
	if t := q.Get("nextToken"); t != "" {
		var ok bool
		if after, ok = paging.DecodeToken(t); !ok {
			return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "The nextToken is not valid: pass the nextToken of a previous ListAddons response unchanged.")
		}
	}
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, err
	}
	all, err := o.addonsOf(r.Context(), c)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, a := range all {
		names = append(names, a.Spec.AddonName)
	}
	slices.Sort(names)
	page, next := paging.Page(names, after, limit)
	return eks.ListAddonsOutput{Addons: append([]string{}, page...), NextToken: next}, nil
}

// addonsOf lists the add-ons of this incarnation of c.
func (o *Operations) addonsOf(ctx context.Context, c *v1alpha1.Cluster) ([]v1alpha1.Addon, error) {
	var l v1alpha1.AddonList
	if err := o.Store.List(ctx, &l, client.InNamespace(c.Namespace), client.MatchingLabels{v1alpha1.LabelCluster: c.Name}); err != nil {
		return nil, fmt.Errorf("listing add-ons of %s: %w", c.Spec.Name, err)
	}
	return slices.DeleteFunc(l.Items, func(a v1alpha1.Addon) bool { return !addonOf(&a, c) }), nil
}

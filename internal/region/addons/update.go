package addons

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusterupdates"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// Update serves UpdateAddon: POST /clusters/{name}/addons/{addonName}/update.
// It records an AddonUpdate and gives the add-on a new generation, which
// the cell applies; DescribeUpdate settles the update from what the cell
// reports.
func (o *Operations) Update(r *http.Request) (any, error) {
	var in eks.UpdateAddonInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	for _, check := range []error{eksinput.ValidateToken(in.ClientRequestToken), roleArn(in.ServiceAccountRoleArn)} {
		if check != nil {
			return nil, check
		}
	}
	c, a, err := o.ofRequest(r)
	if err != nil {
		return nil, err
	}
	params := updateParams(&in)
	if u, err := o.byToken(r.Context(), c, a.Spec.AddonName, in.ClientRequestToken, params); err != nil || u != nil {
		return updateOutput(u, err)
	}
	change, err := changeOf(c, a, &in)
	if err != nil {
		return nil, err
	}
	if err := o.requireIdle(c, a); err != nil {
		return nil, err
	}
	o.settleAll(r.Context(), c, a.Spec.AddonName)
	u, err := o.updates().Record(r.Context(), c, v1alpha1.ClusterUpdateSpec{
		Type: eks.UpdateTypeAddonUpdate, Params: params, ClientRequestToken: in.ClientRequestToken, Addon: a.Spec.AddonName,
	}, v1alpha1.UpdateInProgress)
	if err != nil {
		return nil, err
	}
	change(&a.Spec)
	a.Spec.UpdateID, a.Spec.ModifiedAt = u.Spec.ID, metav1.Now()
	// An update of the add-on stored since it was read is a conflict: two
	// updates never run at once.
	if err := o.Store.Update(r.Context(), a); err != nil {
		o.fail(r.Context(), u, "the add-on was changed by another request")
		return nil, fmt.Errorf("storing update of add-on %s: %w", a.Spec.AddonName, err)
	}
	o.Log.Info("updating add-on", "cluster", c.Spec.Name, "addon", a.Spec.AddonName, "update", u.Spec.ID)
	return updateOutput(u, nil)
}

// changeOf validates an UpdateAddon request against the cluster's minor
// and returns the change it makes to the add-on's spec.
func changeOf(c *v1alpha1.Cluster, a *v1alpha1.Addon, in *eks.UpdateAddonInput) (func(*v1alpha1.AddonSpec), error) {
	v := a.Spec.AddonVersion
	if in.AddonVersion != "" {
		var err error
		if v, err = version(a.Spec.AddonName, c.Spec.Version, in.AddonVersion); err != nil {
			return nil, err
		}
	}
	resolve, err := resolveConflicts(in.ResolveConflicts)
	if err != nil {
		return nil, err
	}
	values := a.Spec.ConfigurationValues
	if in.ConfigurationValues != nil {
		values = *in.ConfigurationValues
	}
	if err := configuration(a.Spec.AddonName, values); err != nil {
		return nil, err
	}
	return func(s *v1alpha1.AddonSpec) {
		s.AddonVersion, s.ResolveConflicts, s.ConfigurationValues = v, resolve, values
	}, nil
}

// requireIdle refuses to change an add-on being deleted or updated.
func (o *Operations) requireIdle(c *v1alpha1.Cluster, a *v1alpha1.Addon) error {
	switch {
	case !a.DeletionTimestamp.IsZero():
		return errdefs.Publicf(o.InUse, "Addon %s of cluster %s is being deleted.", a.Spec.AddonName, c.Spec.Name)
	case Updating(a):
		return errdefs.Publicf(o.InUse, "Addon %s of cluster %s is %s; retry once it is done.", a.Spec.AddonName, c.Spec.Name, Status(a))
	}
	return nil
}

// updateParams are an UpdateAddon's parameters, as EKS reports them.
func updateParams(in *eks.UpdateAddonInput) []v1alpha1.UpdateParam {
	var ps []v1alpha1.UpdateParam
	if in.AddonVersion != "" {
		ps = append(ps, v1alpha1.UpdateParam{Type: eks.UpdateParamAddonVersion, Value: in.AddonVersion})
	}
	if in.ResolveConflicts != "" {
		ps = append(ps, v1alpha1.UpdateParam{Type: eks.UpdateParamResolveConflicts, Value: in.ResolveConflicts})
	}
	if in.ConfigurationValues != nil {
		ps = append(ps, v1alpha1.UpdateParam{Type: eks.UpdateParamConfigurationValues, Value: *in.ConfigurationValues})
	}
	return ps
}

// byToken returns the add-on update made with token, or nil. A token reused
// for another request is refused: a retry must repeat what it retries.
func (o *Operations) byToken(ctx context.Context, c *v1alpha1.Cluster, addon, token string, params []v1alpha1.UpdateParam) (*v1alpha1.ClusterUpdate, error) {
	if token == "" {
		return nil, nil
	}
	ups, err := o.updates().List(ctx, c)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(ups, func(u v1alpha1.ClusterUpdate) bool { return u.Spec.ClientRequestToken == token })
	if i < 0 {
		return nil, nil
	}
	if u := ups[i]; u.Spec.Type != eks.UpdateTypeAddonUpdate || u.Spec.Addon != addon || !slices.Equal(u.Spec.Params, params) {
		return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "The clientRequestToken %s was used for a different update of cluster %s (%s).", token, c.Spec.Name, u.Spec.ID)
	}
	return &ups[i], nil
}

func updateOutput(u *v1alpha1.ClusterUpdate, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return eks.UpdateOutput{Update: clusterupdates.Wire(u)}, nil
}

func (o *Operations) updates() *clusterupdates.Records {
	return &clusterupdates.Records{Client: o.Store, Log: o.Log}
}

// Delete serves DeleteAddon: DELETE /clusters/{name}/addons/{addonName}?preserve=B.
// The add-on reads DELETING until the cell has removed its objects from the
// tenant cluster, or, with preserve, let go of them.
func (o *Operations) Delete(r *http.Request) (any, error) {
	preserve, err := parsePreserve(r.URL.Query().Get("preserve"))
	if err != nil {
		return nil, err
	}
	c, a, err := o.ofRequest(r)
	if err != nil {
		return nil, err
	}
	if err := o.requireIdle(c, a); err != nil {
		return nil, err
	}
	if preserve && !a.Spec.Preserve {
		a.Spec.Preserve = true
		if err := o.Store.Update(r.Context(), a); err != nil {
			return nil, fmt.Errorf("marking add-on %s preserved: %w", a.Spec.AddonName, err)
		}
	}
	err = o.Store.Delete(r.Context(), a, client.Preconditions{UID: &a.UID, ResourceVersion: &a.ResourceVersion})
	if err != nil {
		return nil, fmt.Errorf("deleting add-on %s: %w", a.Spec.AddonName, err)
	}
	o.Log.Info("deleting add-on", "cluster", c.Spec.Name, "addon", a.Spec.AddonName, "preserve", preserve)
	if a.DeletionTimestamp.IsZero() {
		now := metav1.Now()
		a.DeletionTimestamp = &now // what the store set; the answer reads DELETING
	}
	return eks.AddonOutput{Addon: o.toWire(c, a)}, nil
}

func parsePreserve(v string) (bool, error) {
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errdefs.Publicf(errdefs.ErrInvalidParameter, "preserve must be true or false; got %q.", v)
	}
	return b, nil
}

package nodegroups

import (
	"fmt"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/paging"
)

// ofRequest fetches the cluster and the node group the path names.
func (o *Operations) ofRequest(r *http.Request) (*v1alpha1.Cluster, *v1alpha1.NodeGroup, error) {
	name := r.PathValue("nodegroupName")
	if err := validateName(name); err != nil {
		return nil, nil, notFound(name)
	}
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, nil, err
	}
	ng, err := o.get(r.Context(), c, name)
	return c, ng, err
}

// Describe serves DescribeNodegroup: GET /clusters/{name}/node-groups/{nodegroupName}.
func (o *Operations) Describe(r *http.Request) (any, error) {
	c, ng, err := o.ofRequest(r)
	if err != nil {
		return nil, err
	}
	if err := o.settleOf(r, c, ng); err != nil {
		return nil, err
	}
	return eks.NodegroupOutput{Nodegroup: o.toWire(o.Clusters.Account(r), ng)}, nil
}

// settleOf settles the group's updates, so a caller who saw it ACTIVE
// finds its updates decided.
func (o *Operations) settleOf(r *http.Request, c *v1alpha1.Cluster, ng *v1alpha1.NodeGroup) error {
	ups, err := o.Clusters.Updates(r.Context(), c)
	if err != nil {
		return err
	}
	return o.Settle(r.Context(), ng, ups)
}

// List serves ListNodegroups: GET /clusters/{name}/node-groups?maxResults=N&nextToken=T.
// Pages are cut from the names in byte order.
func (o *Operations) List(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := paging.ParseLimit(q.Get("maxResults"), eks.MinListNodegroupsResults, eks.MaxListNodegroupsResults, eks.DefaultListNodegroupsResults)
	if err != nil {
		return nil, err
	}
	var after string
	if t := q.Get("nextToken"); t != "" {
		last, ok := paging.DecodeToken(t)
		if !ok || last == "" {
			return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "The nextToken is not valid: pass the nextToken of a previous ListNodegroups response unchanged.")
		}
		after = last
	}
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, err
	}
	groups, err := List(r.Context(), o.Store, c)
	if err != nil {
		return nil, err
	}
	page, next := paging.Page(orderedNames(groups), after, limit)
	return eks.ListNodegroupsOutput{Nodegroups: page, NextToken: next}, nil
}

// Delete serves DeleteNodegroup: DELETE /clusters/{name}/node-groups/{nodegroupName}.
// The group reads DELETING until the cell has stopped its nodes and let go
// of it; a group with an update in progress is refused, as EKS refuses it.
func (o *Operations) Delete(r *http.Request) (any, error) {
	c, ng, err := o.ofRequest(r)
	if err != nil {
		return nil, err
	}
	if err := o.settleOf(r, c, ng); err != nil {
		return nil, err
	}
	if WireStatus(ng) == eks.NodegroupStatusUpdating {
		return nil, errdefs.Publicf(o.InUse, "Nodegroup %s of cluster %s has an update in progress; delete it once the update is over.", ng.Spec.NodegroupName, c.Spec.Name)
	}
	if ng.DeletionTimestamp.IsZero() {
		err = o.Store.Delete(r.Context(), ng, client.Preconditions{UID: &ng.UID, ResourceVersion: &ng.ResourceVersion})
		switch {
		case apierrors.IsNotFound(err):
			return nil, notFound(ng.Spec.NodegroupName)
		case apierrors.IsConflict(err):
			return nil, errdefs.Publicf(o.InUse, "Nodegroup %s was changed by another request; retry.", ng.Spec.NodegroupName)
		case err != nil:
			return nil, err
		}
		o.Log.Info("deleting node group", "cluster", c.Spec.Name, "nodegroup", ng.Spec.NodegroupName)
	}
	err = o.Store.Get(r.Context(), client.ObjectKeyFromObject(ng), ng)
	switch {
	case apierrors.IsNotFound(err):
		gone := metav1.Now()
		ng.DeletionTimestamp = &gone
	case err != nil:
		return nil, fmt.Errorf("reading node group %s: %w", ng.Spec.NodegroupName, err)
	}
	return eks.NodegroupOutput{Nodegroup: o.toWire(o.Clusters.Account(r), ng)}, nil
}

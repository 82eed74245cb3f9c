package cell

import (
	"context"
	"sync"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// evacuateMovers bounds how many clusters are evacuated at once.
const evacuateMovers = 8

// evacuateNow drains the endpoints and stops the members of the zones out of
// rotation in every ready cluster, at once, then sets the lease movers going
// for what the stopped controllers leave behind. Each cluster's own pass does the
// same, but a pass under way may spend seconds probing the failed zone's
// members before it gets to the change; the passes woken after this finish
// the job (etcd's leader, status). The writes are idempotent, and the
// endpoint file is written under the lock its pass takes too.
func (r *ClusterReconciler) evacuateNow(ctx context.Context, clusters []v1alpha1.Cluster) {
	ready := r.readyPlans(ctx, clusters)
	sem := make(chan struct{}, evacuateMovers)
	var wg sync.WaitGroup
	for _, cp := range ready {
		c, p := cp.c, cp.p
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			log := r.Logger.With("cluster", c.Spec.Name, "namespace", c.Namespace)
			if err := r.writeEndpoint(c, p); err != nil {
				log.Warn("draining the endpoint for a zone change", "err", err)
			}
			if err := r.stopShifted(ctx, p); err != nil {
				log.Warn("stopping members for a zone change", "err", err)
			}
		})
	}
	wg.Wait()
	if len(r.Zones.Zones()) > 0 {
		r.moveLeases(ctx, ready)
	}
}

// clusterPlan is a cluster with its plan.
type clusterPlan struct {
	c *v1alpha1.Cluster
	p *controlplane.Plan
}

// readyPlans are the plans of the clusters a zone change acts on at once:
// the ACTIVE ones. The others are left to their own passes.
func (r *ClusterReconciler) readyPlans(ctx context.Context, clusters []v1alpha1.Cluster) []clusterPlan {
	var out []clusterPlan
	for i := range clusters {
		c := &clusters[i]
		if c.Status.Status != v1alpha1.StatusActive || c.Status.Slot == nil {
			continue
		}
		if p, err := r.plan(ctx, c); err == nil {
			out = append(out, clusterPlan{c, p})
		}
	}
	return out
}

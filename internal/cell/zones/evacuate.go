package zones

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/endpoint"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// evacuateMovers bounds how many clusters are evacuated at once.
const evacuateMovers = 8

// shiftStopTimeout is how long a controller leaving a shifted zone gets to
// hand its lease back before it is killed. In an impaired zone it cannot reach
// its API server anyway; the lease mover releases what it leaves behind.
const shiftStopTimeout = 2 * time.Second

// Evacuator moves every ready cluster of the cell out of the zones out of
// rotation as soon as they change.
type Evacuator struct {
	Client   client.Reader // the cell's store
	Shifts   *Shifts
	Layout   tenant.Layout
	Endpoint *endpoint.Writer
	Runner   tenant.Stopper
	Logger   *slog.Logger
}

// Evacuate drains the endpoints and stops the members of the zones out of
// rotation in every ready cluster of clusters, at once, then sets the lease
// movers going for what the stopped controllers leave behind. Each cluster's
// own pass does the same, but a pass under way may spend seconds probing the
// failed zone's members before it gets to the change; the passes woken after
// this finish the job (etcd's leader, status). The writes are idempotent, and
// the endpoint file is written under the lock its pass takes too.
func (e *Evacuator) Evacuate(ctx context.Context, clusters []v1alpha1.Cluster) {
	ready := e.readyPlans(clusters)
	sem := make(chan struct{}, evacuateMovers)
	var wg sync.WaitGroup
	for _, cp := range ready {
		c, p := cp.c, cp.p
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			log := tenant.Logger(e.Logger, c)
			if err := e.Endpoint.Write(p); err != nil {
				log.Warn("draining the endpoint for a zone change", "err", err)
			}
			if err := e.Shifts.StopShifted(ctx, e.Runner, p); err != nil {
				log.Warn("stopping members for a zone change", "err", err)
			}
		})
	}
	wg.Wait()
	if len(e.Shifts.Zones()) > 0 {
		e.moveLeases(ctx, ready)
	}
}

// clusterPlan is a cluster with its plan.
type clusterPlan struct {
	c *v1alpha1.Cluster
	p *controlplane.Plan
}

// readyPlans are the plans of the clusters a zone change acts on at once:
// the ACTIVE ones. The others are left to their own passes.
func (e *Evacuator) readyPlans(clusters []v1alpha1.Cluster) []clusterPlan {
	var out []clusterPlan
	for i := range clusters {
		c := &clusters[i]
		if c.Status.Status != v1alpha1.StatusActive || c.Status.Slot == nil {
			continue
		}
		out = append(out, clusterPlan{c, e.Layout.Addresses(c)})
	}
	return out
}

// StopShifted stops the members of p that a zone out of rotation keeps
// stopped, side by side: each gets shiftStopTimeout, and an evacuation waits
// for the slowest only. What an in-place restore holds stopped is its own.
func (z *Shifts) StopShifted(ctx context.Context, r tenant.Stopper, p *controlplane.Plan) error {
	var out []controlplane.Member
	for _, m := range p.AllMembers() {
		if !etcdstate.Held(p, m) && z.StoppedByShift(m) {
			out = append(out, m)
		}
	}
	return tenant.StopMembers(ctx, r, p, out, shiftStopTimeout, ", its zone is out of rotation")
}

// WakeOnChange sends every cluster of the cell to wake whenever the zones out
// of rotation change, after handing them to first (when set). The cluster
// lifecycle (with the evacuation as first) and etcd care each run one.
func WakeOnChange(ctx context.Context, c client.Reader, zones *Shifts, log *slog.Logger, wake chan<- event.GenericEvent,
	first func(context.Context, []v1alpha1.Cluster)) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-zones.Changed():
		}
		var list v1alpha1.ClusterList
		if err := c.List(ctx, &list); err != nil {
			log.Warn("listing clusters after a zone shift", "err", err)
			continue
		}
		if first != nil {
			first(ctx, list.Items)
		}
		for i := range list.Items {
			select {
			case wake <- event.GenericEvent{Object: &list.Items[i]}:
			case <-ctx.Done():
				return nil
			}
		}
	}
}

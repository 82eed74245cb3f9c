package lifecycle

import (
	"context"
	"errors"
	"fmt"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/rollout"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// planner describes a cluster's control plane on the releases and platform
// versions it runs and should run.
type planner struct {
	layout   tenant.Layout
	binaries Binaries
}

// plannerOf is the planner over r's layout and binaries.
func plannerOf(r *Reconciler) planner { return planner{layout: r.Layout, binaries: r.Binaries} }

// plans derives the control plane's description on the release and
// platform version it should run and, while it runs others, on those too,
// building components on first use. A rollout under way keeps its two
// targets until it ends, even if the wanted one changed meanwhile (a
// cancel).
func (r planner) plans(ctx context.Context, c *v1alpha1.Cluster) (rollout.Plans, error) {
	want, err := r.wanted(ctx, c)
	if err != nil {
		return rollout.Plans{}, err
	}
	from, to := r.running(ctx, c), want
	if ro := c.Status.Rollout; ro != nil && !ro.Finished() {
		from, to = rollout.Targets(ro)
	}
	if from.Version == "" || c.Status.Status != v1alpha1.StatusActive && c.Status.Rollout == nil {
		// Being created: it runs what it should from the start.
		c.Status.KubernetesVersion, c.Status.PlatformVersion = want.Version, want.Platform
		from = to
	}
	toPlan, err := r.plan(ctx, c, to)
	if err != nil || from == to {
		return rollout.Plans{To: toPlan}, err
	}
	fromPlan, err := r.plan(ctx, c, from)
	if errors.Is(err, tenant.ErrTerminal) {
		// A release or platform version this build no longer offers cannot
		// be planned: the members move as their processes next start.
		c.Status.KubernetesVersion, c.Status.PlatformVersion = to.Version, to.Platform
		return rollout.Plans{To: toPlan}, nil
	}
	if err != nil {
		return rollout.Plans{}, err
	}
	return rollout.Plans{From: fromPlan, To: toPlan}, nil
}

// wanted is the release and platform version c's spec asks for.
func (r planner) wanted(ctx context.Context, c *v1alpha1.Cluster) (rollout.Target, error) {
	rel, err := components.Lookup(c.Spec.Version)
	if err != nil {
		return rollout.Target{}, fmt.Errorf("%w: %w", tenant.ErrTerminal, err)
	}
	pv, err := r.layout.Platforms.Resolve(ctx, rel.Minor, c.Spec.PlatformVersion)
	if err != nil {
		// The members keep running what they run until the version is known
		// here (an agent copies registered ones into the cell's store).
		return rollout.Target{}, fmt.Errorf("resolving platform version: %w", err)
	}
	return rollout.Target{Version: rel.Version, Platform: pv.Name}, nil
}

// running is what c runs: its status, with the default platform version of
// its release for a cluster that ran before platform versions were recorded.
func (r planner) running(ctx context.Context, c *v1alpha1.Cluster) rollout.Target {
	t := rollout.Target{Version: c.Status.KubernetesVersion, Platform: c.Status.PlatformVersion}
	if rel, err := components.Lookup(t.Version); err == nil && t.Platform == "" {
		if pv, err := r.layout.Platforms.Resolve(ctx, rel.Minor, ""); err == nil {
			t.Platform = pv.Name
		}
	}
	return t
}

// plan describes the control plane on target t.
func (r planner) plan(ctx context.Context, c *v1alpha1.Cluster, t rollout.Target) (*controlplane.Plan, error) {
	rel, err := components.Lookup(t.Version)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", tenant.ErrTerminal, err)
	}
	pv, err := r.layout.Platforms.Resolve(ctx, rel.Minor, t.Platform)
	if err != nil {
		return nil, fmt.Errorf("%w: resolving platform version: %w", tenant.ErrTerminal, err)
	}
	kube, err := r.binaries.Kubernetes(ctx, rel)
	if err != nil {
		return nil, fmt.Errorf("getting Kubernetes %s binaries: %w", rel.Version, err)
	}
	etcd, err := r.binaries.Etcd(ctx)
	if err != nil {
		return nil, fmt.Errorf("getting etcd binaries: %w", err)
	}
	return r.layout.PlanFor(c, kube, etcd, pv), nil
}

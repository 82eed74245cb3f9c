package tenant

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// ErrTerminal marks failures that retrying cannot fix; the cluster goes FAILED.
var ErrTerminal = errors.New("cannot be created")

// ErrReplan ends a pass after a step changed what the plan is derived from
// (an etcd member's replacement record): the next pass starts from a fresh
// plan.
var ErrReplan = errors.New("plan changed")

// Concern is a part of a cluster's pass that another package owns: member
// replacement, restores. The cluster lifecycle runs every concern's Reconcile
// in a fixed order after writing certificates and configs and before the
// endpoint and the processes, and asks every concern's Health once it has
// probed the members.
type Concern interface {
	// Reconcile takes the concern's next steps. ErrReplan and ErrTerminal end
	// the pass as their names say.
	Reconcile(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error
	// Health says what of this concern keeps the cluster from Ready, or ""
	// when nothing does. etcdHealthy is whether every etcd member passed its
	// probe in this pass.
	Health(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan, etcdHealthy bool) string
}

// Runner runs control-plane processes; the process runtime implements it.
type Runner interface {
	Ensure(ctx context.Context, s process.Spec) (process.Status, error)
	Stopper
	Status(id string) (process.Status, bool)
}

// Stopper stops control-plane processes.
type Stopper interface {
	Stop(ctx context.Context, s process.Spec) error
}

// StopMembers stops members side by side, each given timeout to exit on
// SIGTERM; why says in errors why they stop.
func StopMembers(ctx context.Context, r Stopper, p *controlplane.Plan, members []controlplane.Member, timeout time.Duration, why string) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, m := range members {
		spec := p.Spec(m)
		spec.StopTimeout = timeout
		g.Go(func() error {
			if err := r.Stop(ctx, spec); err != nil {
				return fmt.Errorf("stopping %s%s: %w", m.Name(), why, err)
			}
			return nil
		})
	}
	return g.Wait()
}

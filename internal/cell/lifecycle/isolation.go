package lifecycle

import (
	"context"
	"fmt"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/poll"
	"github.com/cellplane/cellplane/internal/runtime/tenantuser"
)

// phaseIsolation readies what the cluster's isolated processes need before
// any starts: their files readable by the cluster's user and nobody else's,
// the binaries reachable, the cgroup with its limits. It changes only what
// differs, so a pass over a running cluster writes nothing.
func (r *Reconciler) phaseIsolation(_ context.Context, _ *v1alpha1.Cluster, p *controlplane.Plan) error {
	iso := p.Isolation()
	if iso == nil {
		return nil
	}
	if err := tenantuser.Prepare(p.TenantDirs(), iso.User); err != nil {
		return fmt.Errorf("preparing the cluster's files for its user: %w", err)
	}
	if err := grantBinaries(p); err != nil {
		return err
	}
	if iso.Cgroup != nil {
		if err := iso.Cgroup.Ensure(iso.Limits); err != nil {
			return fmt.Errorf("creating the cluster's cgroup: %w", err)
		}
	}
	return nil
}

// ownDataDir chains before next a start hook that gives member m's data
// directory to the cluster's user: a restore or member replacement writes it
// as root while the member is stopped.
func ownDataDir(p *controlplane.Plan, m controlplane.Member, next func() error) func() error {
	iso := p.Isolation()
	if iso == nil {
		return next
	}
	dir, user := p.EtcdDataDir(m), iso.User
	return func() error {
		if err := tenantuser.OwnTree(dir, user); err != nil {
			return err
		}
		return next()
	}
}

// cgroupRemoveTimeout bounds the wait for the kernel to let go of a deleted
// cluster's cgroup: its processes are stopped, but a group stays busy until
// their exit is complete.
const cgroupRemoveTimeout = 10 * time.Second

// removeCgroup deletes the cluster's cgroup once its processes are gone.
func removeCgroup(ctx context.Context, p *controlplane.Plan) error {
	iso := p.Isolation()
	if iso == nil || iso.Cgroup == nil {
		return nil
	}
	err := poll.Until(ctx, cgroupRemoveTimeout, 100*time.Millisecond, iso.Cgroup.Remove)
	if err != nil {
		return fmt.Errorf("removing the cluster's cgroup: %w", err)
	}
	return nil
}

// grantBinaries lets the cluster's user reach and run its members'
// binaries: the component cache is root's, under /root by default. It runs on
// every pass, rather than once, so a cache tightened meanwhile is opened
// again; each binary's path costs a few stat calls.
func grantBinaries(p *controlplane.Plan) error {
	done := map[string]bool{}
	for _, m := range p.AllMembers() {
		path := p.Spec(m).Path
		if done[path] {
			continue
		}
		done[path] = true
		if err := tenantuser.GrantTraverse(path, tenantuser.TraverseGID); err != nil {
			return fmt.Errorf("letting the cluster's user run %s: %w", m.Kind, err)
		}
	}
	return nil
}

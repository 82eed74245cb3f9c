package etcdstate

import (
	"errors"
	"fmt"

	"github.com/cellplane/cellplane/internal/controlplane"
)

// A member's data directory is the member: its write-ahead log is its promise
// of every entry it acknowledged. Once a cluster's etcd has formed, a member
// must never start again on an empty directory, because etcd would take it for
// a member that acknowledged nothing: one such member panics on its first
// heartbeat, two of them can elect each other and serve an empty cluster. So
// once the bootstrapped record exists StartGuard refuses to start a member
// without a write-ahead log, and the process runtime keeps refusing its
// restarts, until the members package replaces it through a learner (or the
// restore package restores the cluster when a majority lost their data).

// ErrDataLost refuses to start a member whose data is gone.
var ErrDataLost = errors.New("etcd member data lost")

// StartGuard is member m's process.Spec.BeforeStart: after the cluster
// formed, a member starts only on its own data, or empty as a learner that
// was just added back.
func StartGuard(p *controlplane.Plan, m controlplane.Member) func() error {
	r := For(p)
	return func() error {
		if !r.Bootstrapped() || HasData(p.EtcdDataDir(m)) {
			return nil
		}
		if j, ok, err := r.Join(m.Name()); err != nil || (ok && !j.Promoted) {
			return err
		}
		return fmt.Errorf("%w: %s has no write-ahead log in %s; it is replaced through a learner, not restarted empty",
			ErrDataLost, m.Name(), p.EtcdDataDir(m))
	}
}

// Held reports whether member m must stay stopped for an in-place restore:
// everything while the full is restored, everything but the store while the
// incrementals replay.
func Held(p *controlplane.Plan, m controlplane.Member) bool {
	r := For(p)
	if !r.InPlaceRunning() {
		return false
	}
	return m.Component.Tier() != controlplane.TierStore || !r.InPlaceRestored()
}

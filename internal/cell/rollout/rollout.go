package rollout

import (
	"context"
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// Defaults of Stepper.
const (
	// DefaultMemberTimeout is how long a moved member may take to become
	// healthy before the step fails. An API server starts in seconds here;
	// minutes mean it will not.
	DefaultMemberTimeout = 3 * time.Minute
	// DefaultRestorePointTimeout is how long the rollout waits for its full
	// backup.
	DefaultRestorePointTimeout = 5 * time.Minute
	// Poll is how soon a pass comes back while a rollout runs.
	Poll = time.Second
)

// Env is what a step needs from the cell.
type Env interface {
	// Run makes m run the process spec says, restarting it if it runs
	// another; it returns once the old process has exited and the new one
	// started.
	Run(ctx context.Context, m controlplane.Member, p *controlplane.Plan) error
	// Healthy probes m.
	Healthy(ctx context.Context, m controlplane.Member) error
	// Drain takes the API server m out of the endpoint's rotation, or, with
	// nil, puts every member back.
	Drain(m *controlplane.Member) error
	// Persist writes the cluster's status now, before the step it records
	// is taken.
	Persist(ctx context.Context) error
	// Served reads the group versions the API servers serve now.
	Served(ctx context.Context) ([]string, error)
	// Stored counts the objects of etcd by the apiVersion they are stored as.
	Stored(ctx context.Context) (map[string]int, error)
	// RestorePoint reports the full backup taken after the time the cluster
	// asked for one, or nil while there is none yet.
	RestorePoint(c *v1alpha1.Cluster) (*v1alpha1.RestorePoint, error)
}

// Stepper advances rollouts. Its zero value uses the defaults.
type Stepper struct {
	MemberTimeout       time.Duration
	RestorePointTimeout time.Duration
	Now                 func() time.Time
}

func (s Stepper) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Plans are the control plane's description on the release it runs (From)
// and the one it should run (To). From is nil when there is nothing to move.
type Plans struct {
	From, To *controlplane.Plan
}

// For returns the plan member m runs under the rollout ro: To once it moved
// (or while it moves there), From before. With no rollout running, every
// member runs To.
func (ps Plans) For(ro *v1alpha1.RolloutStatus, m controlplane.Member) *controlplane.Plan {
	if ps.From == nil || ro == nil {
		return ps.To
	}
	name := m.Name()
	if ro.Current == name {
		if ro.Reverting {
			return ps.From
		}
		return ps.To
	}
	if slices.Contains(ro.Moved, name) {
		return ps.To
	}
	return ps.From
}

// Order lists the members whose process differs between from and to, in the
// order they move: start order (etcd, API servers, controllers) going up,
// its reverse going down, so no controller ever runs a newer release than
// the API servers it talks to, as the version skew policy requires.
func Order(from, to *controlplane.Plan, up bool) []controlplane.Member {
	var out []controlplane.Member
	for _, m := range to.AllMembers() {
		if !from.Spec(m).SameProcess(to.Spec(m)) {
			out = append(out, m)
		}
	}
	if !up {
		slices.Reverse(out)
	}
	return out
}

// Rollout types: the update types of the regional API, and a platform
// version's own.
const (
	TypeUpgrade  = "VersionUpdate"
	TypeRollback = "VersionRollback"
	TypePlatform = "PlatformVersionUpdate"
)

// Target is what a control plane runs: a Kubernetes release and a platform
// version.
type Target struct{ Version, Platform string }

// Targets are where ro goes from and to.
func Targets(ro *v1alpha1.RolloutStatus) (from, to Target) {
	return Target{ro.From, ro.FromPlatform}, Target{ro.To, ro.ToPlatform}
}

// Begin starts a rollout of c from what it runs to what it should, or finds
// the one under way. It returns nil when c should not move: the last
// attempt at this target ended (failed or cancelled) and c stays on what it
// runs until a new update asks again.
func Begin(c *v1alpha1.Cluster, running, want Target, typ string, now time.Time) *v1alpha1.RolloutStatus {
	ro := c.Status.Rollout
	var from, to Target
	if ro != nil {
		from, to = Targets(ro)
	}
	// A version update names itself on the cluster; a platform change has
	// no update of its own, and must not take over the last version
	// update's, whose status the region settles from this rollout.
	id := c.Spec.VersionUpdateID
	if typ == TypePlatform {
		id = ""
	}
	switch {
	case ro != nil && !ro.Finished():
		if want == from && !ro.Reverting {
			// Cancelled: the wanted target went back to the one being left.
			// The moved members come back.
			ro.Reverting, ro.Message = true, "cancelled: moving the members back to "+describe(from)
		}
		return ro
	case ro != nil && to == want && ro.Phase == v1alpha1.RolloutSuccessful:
		return ro // finished, but the cell stopped before it recorded the target
	case ro != nil && to == want && ro.UpdateID == id:
		// Ended without success: a platform version that failed here is
		// not tried again until the cluster is asked for another.
		return nil
	}
	t := metav1.NewTime(now)
	c.Status.Rollout = &v1alpha1.RolloutStatus{
		Type: typ, UpdateID: id, From: running.Version, To: want.Version,
		FromPlatform: running.Platform, ToPlatform: want.Platform,
		Phase: v1alpha1.RolloutRestorePoint, StartedAt: &t,
		Message: "taking a full backup as the restore point",
	}
	if was := ro; typ == TypeRollback && was != nil && was.Type == TypeUpgrade && was.Phase == v1alpha1.RolloutSuccessful && was.From == want.Version {
		// Going back: check the stored objects against what the release
		// we go back to served before the upgrade.
		c.Status.Rollout.ToServes = was.FromServes
	}
	if typ == TypePlatform {
		// The data stays as it is: a platform version changes only what
		// cellplane sets around the same binaries.
		c.Status.Rollout.Phase, c.Status.Rollout.Message = v1alpha1.RolloutMembers, "moving the members to "+describe(want)
	}
	return c.Status.Rollout
}

// describe names a target in messages: its release, and its platform
// version when it has one.
func describe(t Target) string {
	if t.Platform == "" {
		return t.Version
	}
	return t.Version + " (" + t.Platform + ")"
}

// Step takes the next step of c's rollout ro between ps.From and ps.To and
// says how soon to come back; zero means the rollout ended this pass.
func (s Stepper) Step(ctx context.Context, c *v1alpha1.Cluster, ps Plans, up bool, env Env) (time.Duration, error) {
	ro := c.Status.Rollout
	switch ro.Phase {
	case v1alpha1.RolloutRestorePoint:
		return s.restorePoint(ctx, c, ro, env)
	case v1alpha1.RolloutMembers:
		return s.members(ctx, ro, ps, up, env)
	}
	return 0, nil
}

func (s Stepper) restorePoint(ctx context.Context, c *v1alpha1.Cluster, ro *v1alpha1.RolloutStatus, env Env) (time.Duration, error) {
	if ro.Reverting { // cancelled before anything moved
		s.finish(ro, v1alpha1.RolloutCancelled, "cancelled before any member moved")
		return 0, env.Persist(ctx)
	}
	switch {
	case ro.Type != TypeRollback && ro.FromServes == nil:
		// What the release being left serves, for a rollback to check
		// against later. Read while every API server still runs it.
		served, err := env.Served(ctx)
		if err != nil {
			ro.Message = fmt.Sprintf("reading what %s serves: %v", ro.From, err)
			return Poll, nil
		}
		ro.FromServes = served
		return Poll, env.Persist(ctx)
	case ro.Type == TypeRollback && len(ro.ToServes) > 0 && ro.RestorePoint == nil:
		stored, err := env.Stored(ctx)
		if err != nil {
			return s.fail(ctx, ro, env, fmt.Sprintf("checking the stored objects before the rollback: %v", err))
		}
		if bad := Unserved(stored, ro.ToServes); len(bad) > 0 {
			return s.fail(ctx, ro, env, unreadable(ro.To, bad))
		}
	}
	rp, err := env.RestorePoint(c)
	if err != nil {
		return s.fail(ctx, ro, env, fmt.Sprintf("no restore point: %v", err))
	}
	if rp == nil {
		if s.now().Sub(ro.StartedAt.Time) > cmpOr(s.RestorePointTimeout, DefaultRestorePointTimeout) {
			return s.fail(ctx, ro, env, fmt.Sprintf("no full backup was taken within %s to serve as the restore point; nothing was changed", cmpOr(s.RestorePointTimeout, DefaultRestorePointTimeout)))
		}
		return Poll, nil
	}
	ro.RestorePoint, ro.Phase = rp, v1alpha1.RolloutMembers
	ro.Message = fmt.Sprintf("restore point taken at revision %d", rp.Revision)
	return Poll, env.Persist(ctx)
}

// members moves the next member, or waits for the moving one to be healthy.
func (s Stepper) members(ctx context.Context, ro *v1alpha1.RolloutStatus, ps Plans, up bool, env Env) (time.Duration, error) {
	order := Order(ps.From, ps.To, up)
	if ro.Current == "" {
		next, ok := s.next(ro, order)
		if !ok {
			return s.done(ctx, ro, env)
		}
		t := metav1.NewTime(s.now())
		ro.Current, ro.CurrentSince = next.Name(), &t
		ro.Message = s.moving(ro, next)
		// Recorded before the member is touched: a restart finds it here.
		if err := env.Persist(ctx); err != nil {
			return 0, err
		}
	}
	i := slices.IndexFunc(order, func(m controlplane.Member) bool { return m.Name() == ro.Current })
	if i < 0 { // a member that no longer differs: nothing to move
		ro.Current, ro.CurrentSince = "", nil
		return Poll, env.Persist(ctx)
	}
	m := order[i]
	target := ps.To
	if ro.Reverting {
		target = ps.From
	}
	if m.Kind == controlplane.KindAPIServer {
		if err := env.Drain(&m); err != nil {
			return 0, err
		}
	}
	if err := env.Run(ctx, m, target); err != nil {
		return s.failMember(ctx, ro, env, m, err)
	}
	if err := env.Healthy(ctx, m); err != nil {
		if s.now().Sub(ro.CurrentSince.Time) > cmpOr(s.MemberTimeout, DefaultMemberTimeout) {
			return s.failMember(ctx, ro, env, m, fmt.Errorf("not healthy within %s: %w", cmpOr(s.MemberTimeout, DefaultMemberTimeout), err))
		}
		return Poll, nil
	}
	if err := env.Drain(nil); err != nil {
		return 0, err
	}
	if ro.Reverting {
		ro.Moved = slices.DeleteFunc(ro.Moved, func(n string) bool { return n == m.Name() })
	} else if !slices.Contains(ro.Moved, m.Name()) {
		ro.Moved = append(ro.Moved, m.Name())
	}
	ro.Current, ro.CurrentSince = "", nil
	return Poll, env.Persist(ctx)
}

// next is the member to move: the first not moved going forward; the last
// moved going back.
func (s Stepper) next(ro *v1alpha1.RolloutStatus, order []controlplane.Member) (controlplane.Member, bool) {
	if ro.Reverting {
		for i := len(order) - 1; i >= 0; i-- {
			if slices.Contains(ro.Moved, order[i].Name()) {
				return order[i], true
			}
		}
		return controlplane.Member{}, false
	}
	for _, m := range order {
		if !slices.Contains(ro.Moved, m.Name()) {
			return m, true
		}
	}
	return controlplane.Member{}, false
}

func (s Stepper) moving(ro *v1alpha1.RolloutStatus, m controlplane.Member) string {
	if ro.Reverting {
		from, _ := Targets(ro)
		return fmt.Sprintf("moving %s back to %s", m.Name(), describe(from))
	}
	_, to := Targets(ro)
	return fmt.Sprintf("moving %s to %s (%d moved)", m.Name(), describe(to), len(ro.Moved))
}

// done ends the rollout once every member is where it should be.
func (s Stepper) done(ctx context.Context, ro *v1alpha1.RolloutStatus, env Env) (time.Duration, error) {
	switch {
	case !ro.Reverting:
		s.finish(ro, v1alpha1.RolloutSuccessful, fmt.Sprintf("every member runs %s", ro.To))
	case ro.Error != "":
		s.finish(ro, v1alpha1.RolloutFailed, fmt.Sprintf("every member is back on %s", ro.From))
	default:
		s.finish(ro, v1alpha1.RolloutCancelled, fmt.Sprintf("cancelled: every member is back on %s", ro.From))
	}
	return 0, env.Persist(ctx)
}

// failMember records why m failed and turns the rollout around: m itself is
// the first to go back.
func (s Stepper) failMember(ctx context.Context, ro *v1alpha1.RolloutStatus, env Env, m controlplane.Member, err error) (time.Duration, error) {
	if ro.Reverting {
		// Going back failed too: keep trying, and say so. There is nowhere
		// else to go that is safer than the release the cluster ran.
		ro.Message = fmt.Sprintf("moving %s back to %s: %v", m.Name(), ro.From, err)
		return 5 * Poll, env.Persist(ctx)
	}
	if !slices.Contains(ro.Moved, m.Name()) {
		ro.Moved = append(ro.Moved, m.Name()) // it runs To now, or tried to
	}
	ro.Current, ro.CurrentSince = "", nil
	return s.fail(ctx, ro, env, fmt.Sprintf("%s on %s: %v", m.Name(), ro.To, err))
}

func (s Stepper) fail(ctx context.Context, ro *v1alpha1.RolloutStatus, env Env, why string) (time.Duration, error) {
	ro.Error, ro.Reverting = why, true
	if len(ro.Moved) == 0 && ro.Current == "" {
		s.finish(ro, v1alpha1.RolloutFailed, "nothing was changed")
		return 0, env.Persist(ctx)
	}
	ro.Phase = v1alpha1.RolloutMembers
	ro.Message = "failed; moving the members back to " + ro.From
	return Poll, env.Persist(ctx)
}

func (s Stepper) finish(ro *v1alpha1.RolloutStatus, phase, msg string) {
	t := metav1.NewTime(s.now())
	ro.Phase, ro.Message, ro.FinishedAt = phase, msg, &t
	ro.Current, ro.CurrentSince = "", nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

package members

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
)

func condition(c *v1alpha1.Cluster) *metav1.Condition {
	return meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionEtcdMembers)
}

// What is not member replacement's to do it leaves alone: a cluster whose
// etcd never formed (empty members are normal then), one that lost quorum
// (removing a member needs a quorum: the in-place restore's job) and one
// under an in-place restore.
func TestReplacerLeavesAlone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(*testing.T, *fixture)
		// want is the EtcdMembers condition's reason afterwards, "" for none.
		want string
	}{
		{name: "etcd never formed", prepare: func(*testing.T, *fixture) {}},
		{name: "quorum lost", prepare: func(t *testing.T, f *fixture) { f.formed(t, "a") }},
		{name: "quorum lost with a learner joining", prepare: func(t *testing.T, f *fixture) {
			f.formed(t, "a")
			must(t, etcdstate.For(f.p).SaveJoin("etcd-c", etcdstate.Join{ID: 0xbeef}))
		}},
		{name: "in-place restore running", prepare: func(t *testing.T, f *fixture) {
			f.formed(t, "a", "b")
			must(t, etcdstate.For(f.p).SaveInPlace(etcdstate.InPlaceJob{Set: "u1"}))
		}},
		{name: "every member has its data", prepare: func(t *testing.T, f *fixture) { f.formed(t, "a", "b", "c") },
			want: "AllMembersHaveData"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.prepare(t, f)
			joinedBefore := etcdstate.For(f.p).Joined()
			if err := f.r.Reconcile(context.Background(), f.c, f.p); err != nil {
				t.Fatalf("Reconcile = %v", err)
			}
			if f.dials != 0 || len(f.stop.stopped) != 0 {
				t.Errorf("dialed etcd %d times and stopped %v", f.dials, f.stop.names())
			}
			if got := etcdstate.For(f.p).Joined(); !slices.Equal(got, joinedBefore) {
				t.Errorf("replacement records %v, want %v", got, joinedBefore)
			}
			cond := condition(f.c)
			switch {
			case tc.want == "" && cond != nil:
				t.Errorf("condition set: %+v", cond)
			case tc.want != "" && (cond == nil || cond.Reason != tc.want || cond.Status != metav1.ConditionTrue):
				t.Errorf("condition %+v, want True %s", cond, tc.want)
			}
		})
	}
}

// A member that lost its data while the others keep quorum is stopped,
// cleared, removed and added back as a learner, recorded before it can
// start; the pass ends so that the next one starts it from a fresh plan.
// A cell killed half-way finds etcd in one of the later states and does the
// rest.
func TestReplacerAddsBackLostMember(t *testing.T) {
	for _, tc := range []struct {
		name       string
		membership func(*fakeMembership)
		removed    []uint64
	}{
		{name: "still a voter", membership: func(*fakeMembership) {}, removed: []uint64{0xc}},
		{name: "removed already (killed after the removal)", membership: func(ms *fakeMembership) {
			ms.members = ms.members[:2]
		}},
		{name: "a learner already (killed before the record)", membership: func(ms *fakeMembership) {
			ms.members[2] = &pb.Member{ID: 0xbeef, Name: "etcd-c", PeerURLs: ms.members[2].PeerURLs, IsLearner: true}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.formed(t, "a", "b")
			c := f.member(t, "c")
			// What etcd left of etcd-c: a directory without its log.
			junk := filepath.Join(f.p.EtcdDataDir(c), "member", "snap", "db")
			must(t, os.MkdirAll(filepath.Dir(junk), 0o700))
			must(t, os.WriteFile(junk, []byte("x"), 0o600))
			tc.membership(f.ms)
			before := time.Now().Add(-time.Second)

			err := f.r.Reconcile(context.Background(), f.c, f.p)
			if !errors.Is(err, tenant.ErrReplan) {
				t.Fatalf("Reconcile = %v, want ErrReplan", err)
			}
			if got := f.stop.names(); !slices.Equal(got, []string{"etcd-c"}) || f.stop.stopped[0].StopTimeout != 5*time.Second {
				t.Errorf("stopped %v (grace %v), want etcd-c alone, quickly", got, f.stop.stopped)
			}
			if _, err := os.Stat(f.p.EtcdDataDir(c)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("etcd-c's data directory is still there (%v): the learner must start empty", err)
			}
			if !slices.Equal(f.ms.removed, tc.removed) {
				t.Errorf("removed %x, want %x", f.ms.removed, tc.removed)
			}
			if want := "etcd-c@" + f.p.EtcdPeerURL(c); !slices.Equal(f.ms.added, []string{want}) {
				t.Errorf("added %v, want %s", f.ms.added, want)
			}
			j, ok := f.join(t, "c")
			if !ok || j.ID != 0xbeef || j.Promoted || j.StartedAt.Before(before) {
				t.Errorf("record %+v (%v), want learner beef, not promoted, started now", j, ok)
			}
			if cond := condition(f.c); cond == nil || cond.Status != metav1.ConditionFalse || cond.Reason != "ReplacingMember" ||
				!strings.Contains(cond.Message, "etcd-c") {
				t.Errorf("condition %+v, want False ReplacingMember naming etcd-c", cond)
			}
			// The next pass's plan starts etcd-c as a member of the running
			// cluster, not of a new one.
			next := f.layout.Plan(f.c, components.KubernetesBinaries{}, components.EtcdBinaries{})
			if args := next.Spec(f.member(t, "c")).Args; !slices.Contains(args, "--initial-cluster-state=existing") {
				t.Errorf("etcd-c's next spec %q does not join the existing cluster", args)
			}
		})
	}
}

// A failed step is reported and leaves no record: the learner must never
// start before etcd knows it.
func TestReplacerAddBackFailures(t *testing.T) {
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		fail func(*fixture)
		says string
	}{
		{name: "dial", fail: func(f *fixture) {
			f.r.Dial = func(p *controlplane.Plan) (Membership, error) { return nil, boom }
		}},
		{name: "stop", fail: func(f *fixture) { f.stop.err = boom }, says: "stopping etcd-c"},
		{name: "list", fail: func(f *fixture) { f.ms.listErr = boom }},
		{name: "remove", fail: func(f *fixture) { f.ms.removeErr = boom }, says: "removing etcd-c"},
		{name: "add", fail: func(f *fixture) { f.ms.addErr = boom }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.formed(t, "a", "b")
			tc.fail(f)
			err := f.r.Reconcile(context.Background(), f.c, f.p)
			if !errors.Is(err, boom) || errors.Is(err, tenant.ErrReplan) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Reconcile = %v, want %q wrapping %v", err, tc.says, boom)
			}
			if _, ok := f.join(t, "c"); ok {
				t.Error("a replacement record was written after a failed step")
			}
			if tc.name == "stop" && len(f.ms.removed)+len(f.ms.added) > 0 {
				t.Errorf("changed etcd's membership (removed %x, added %v) with etcd-c maybe still running", f.ms.removed, f.ms.added)
			}
		})
	}
}

// A learner is promoted once it has caught up; until then each pass tries
// again and the condition says what is under way.
func TestReplacerPromotes(t *testing.T) {
	started := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name       string
		promoteErr error
		promoted   bool
		reason     string
		status     metav1.ConditionStatus
	}{
		{name: "caught up", promoted: true, reason: "MemberReplaced", status: metav1.ConditionTrue},
		{name: "still catching up", promoteErr: errors.New("learner not in sync"), reason: "ReplacingMember", status: metav1.ConditionFalse},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			f.formed(t, "a", "b")
			must(t, etcdstate.For(f.p).SaveJoin("etcd-c", etcdstate.Join{ID: 0xbeef, StartedAt: started}))
			f.ms.promoteErr = tc.promoteErr
			if err := f.r.Reconcile(context.Background(), f.c, f.p); err != nil {
				t.Fatalf("Reconcile = %v; a learner not caught up yet is no error", err)
			}
			if len(f.ms.removed)+len(f.ms.added) != 0 || len(f.stop.stopped) != 0 {
				t.Errorf("a joining learner was replaced again: removed %x, added %v, stopped %v", f.ms.removed, f.ms.added, f.stop.names())
			}
			j, _ := f.join(t, "c")
			if j.Promoted != tc.promoted || j.ID != 0xbeef || !j.StartedAt.Equal(started) || j.PromotedAt.IsZero() == tc.promoted {
				t.Errorf("record %+v, want promoted %v with its start kept", j, tc.promoted)
			}
			cond := condition(f.c)
			if cond == nil || cond.Reason != tc.reason || cond.Status != tc.status || !strings.Contains(cond.Message, "beef") {
				t.Errorf("condition %+v, want %s %s naming learner beef", cond, tc.status, tc.reason)
			}
		})
	}
}

// Once promoted and holding its data, the member is like any other.
func TestReplacerAfterPromotion(t *testing.T) {
	f := newFixture(t)
	f.formed(t, "a", "b", "c")
	must(t, etcdstate.For(f.p).SaveJoin("etcd-c", etcdstate.Join{ID: 0xbeef, Promoted: true}))
	if err := f.r.Reconcile(context.Background(), f.c, f.p); err != nil || f.dials != 0 {
		t.Fatalf("Reconcile = %v after %d dials", err, f.dials)
	}
	if cond := condition(f.c); cond == nil || cond.Reason != "AllMembersHaveData" {
		t.Errorf("condition %+v, want AllMembersHaveData", cond)
	}
}

func TestReplacerHealth(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ok      *bool // the EtcdMembers condition; nil: not set
		inPlace bool
		want    string
	}{
		{name: "no condition"},
		{name: "members whole", ok: ptr(true)},
		{name: "replacing", ok: ptr(false), want: "etcd members: etcd-c lost its data"},
		// An in-place restore reports for itself.
		{name: "in-place restore", ok: ptr(false), inPlace: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if tc.ok != nil {
				tenant.SetCondition(f.c, v1alpha1.ConditionEtcdMembers, *tc.ok, "Reason", "etcd-c lost its data")
			}
			if tc.inPlace {
				must(t, etcdstate.For(f.p).SaveInPlace(etcdstate.InPlaceJob{Set: "u1"}))
			}
			if got := f.r.Health(context.Background(), f.c, f.p, true); got != tc.want {
				t.Errorf("Health = %q, want %q", got, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

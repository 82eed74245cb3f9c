package rollout

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/ipam"
)

func testPlans(t *testing.T) Plans {
	t.Helper()
	b, err := ipam.ParseBlock("127.100", 1)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	plan := func(version, root string) *controlplane.Plan {
		return controlplane.New(controlplane.Input{
			Namespace: "acct", Name: "demo", UID: "uid", ClusterName: "demo", Dir: dir, Cell: b.Cell(1),
			Kubernetes: components.KubernetesBinaries{
				Release:               components.Release{Version: version},
				KubeAPIServer:         root + "/kube-apiserver",
				KubeControllerManager: root + "/kube-controller-manager",
				KubeScheduler:         root + "/kube-scheduler",
			},
			Etcd:      components.EtcdBinaries{Etcd: "/etcd/etcd"},
			Cellplane: "/bin/cellplane",
		})
	}
	return Plans{From: plan("v1.36.3", "/k8s-1.36"), To: plan("v1.37.2", "/k8s-1.37")}
}

var (
	v136 = Target{Version: "v1.36.3", Platform: "cellplane.1"}
	v137 = Target{Version: "v1.37.2", Platform: "cellplane.1"}
)

func names(ms []controlplane.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name())
	}
	return out
}

// Going up, API servers move before controllers; going down, after. etcd,
// whose process is the same on both releases, does not move.
func TestOrder(t *testing.T) {
	ps := testPlans(t)
	up := names(Order(ps.From, ps.To, true))
	want := []string{"kube-apiserver-a", "kube-apiserver-b", "kube-controller-manager-a", "kube-controller-manager-b", "kube-scheduler-a", "kube-scheduler-b"}
	if !slices.Equal(up, want) {
		t.Errorf("up: %v, want %v", up, want)
	}
	slices.Reverse(want)
	if down := names(Order(ps.From, ps.To, false)); !slices.Equal(down, want) {
		t.Errorf("down: %v, want %v", down, want)
	}
}

// fakeEnv records what the stepper does; members in unhealthy never become
// healthy on the new release.
type fakeEnv struct {
	ran       []string // "member@binary"
	runs      map[string]string
	drained   []string
	persisted int
	unhealthy map[string]bool
	backup    *v1alpha1.RestorePoint
	stored    map[string]int
}

func (f *fakeEnv) Run(_ context.Context, m controlplane.Member, p *controlplane.Plan) error {
	f.ran = append(f.ran, m.Name()+"@"+p.Spec(m).Path)
	if f.runs == nil {
		f.runs = map[string]string{}
	}
	f.runs[m.Name()] = p.Spec(m).Path
	return nil
}

func (f *fakeEnv) Healthy(_ context.Context, m controlplane.Member) error {
	if f.unhealthy[m.Name()] && strings.Contains(f.runs[m.Name()], "1.37") {
		return errors.New("connection refused")
	}
	return nil
}

func (f *fakeEnv) Drain(m *controlplane.Member) error {
	if m == nil {
		f.drained = append(f.drained, "-")
	} else {
		f.drained = append(f.drained, m.Name())
	}
	return nil
}

func (f *fakeEnv) Persist(context.Context) error { f.persisted++; return nil }

func (f *fakeEnv) Served(context.Context) ([]string, error) { return []string{"apps/v1", "v1"}, nil }

func (f *fakeEnv) Stored(context.Context) (map[string]int, error) {
	if f.stored == nil {
		return map[string]int{"v1": 10, "apps/v1": 2}, nil
	}
	return f.stored, nil
}

func (f *fakeEnv) RestorePoint(*v1alpha1.Cluster) (*v1alpha1.RestorePoint, error) {
	return f.backup, nil
}

// run steps until the rollout ends or n steps pass, with the clock moving a
// minute a step.
func run(t *testing.T, s *Stepper, c *v1alpha1.Cluster, ps Plans, env *fakeEnv, n int) {
	t.Helper()
	now := time.Now()
	s.Now = func() time.Time { return now }
	for range n {
		if c.Status.Rollout.Finished() {
			return
		}
		if _, err := s.Step(context.Background(), c, ps, true, env); err != nil {
			t.Fatal(err)
		}
		now = now.Add(time.Minute)
	}
}

func TestUpgradeMovesEveryMemberAfterTheRestorePoint(t *testing.T) {
	ps := testPlans(t)
	c := &v1alpha1.Cluster{}
	ro := Begin(c, v136, v137, "VersionUpdate", time.Now())
	env := &fakeEnv{}
	s := &Stepper{}
	run(t, s, c, ps, env, 3)
	if ro.Phase != v1alpha1.RolloutRestorePoint || len(env.ran) != 0 {
		t.Fatalf("without a backup: phase %s, ran %v", ro.Phase, env.ran)
	}
	env.backup = &v1alpha1.RestorePoint{Time: metav1.Now(), Revision: 42}
	run(t, s, c, ps, env, 30)
	if ro.Phase != v1alpha1.RolloutSuccessful || ro.RestorePoint.Revision != 42 || len(ro.Moved) != 6 || ro.Current != "" {
		t.Fatalf("rollout %+v", ro)
	}
	if env.ran[0] != "kube-apiserver-a@/k8s-1.37/kube-apiserver" || !slices.Contains(env.drained, "kube-apiserver-b") {
		t.Errorf("ran %v, drained %v", env.ran, env.drained)
	}
	for _, m := range Order(ps.From, ps.To, true) {
		if got := ps.For(ro, m); got != ps.To {
			t.Errorf("%s runs the old plan after the rollout", m.Name())
		}
	}
}

// A member that never becomes healthy fails the step; every moved member
// goes back, the failed one first, and the rollout ends Failed.
func TestFailedMemberTurnsTheRolloutAround(t *testing.T) {
	ps := testPlans(t)
	c := &v1alpha1.Cluster{}
	ro := Begin(c, v136, v137, "VersionUpdate", time.Now())
	env := &fakeEnv{backup: &v1alpha1.RestorePoint{Revision: 1}, unhealthy: map[string]bool{"kube-apiserver-b": true}}
	run(t, &Stepper{}, c, ps, env, 40)
	if ro.Phase != v1alpha1.RolloutFailed || len(ro.Moved) != 0 || ro.Error == "" {
		t.Fatalf("rollout %+v", ro)
	}
	if last := env.ran[len(env.ran)-1]; last != "kube-apiserver-a@/k8s-1.36/kube-apiserver" {
		t.Errorf("the last member to go back was %s, want kube-apiserver-a (b failed, went back first)", last)
	}
	for _, m := range Order(ps.From, ps.To, true) {
		if ps.For(ro, m) != ps.From {
			t.Errorf("%s left on the new release", m.Name())
		}
	}
}

// Cancelling (the wanted release back to the one left) reverses the moved
// members; an update that ended is not started again.
func TestCancelAndNoRetryOfAnEndedUpdate(t *testing.T) {
	ps := testPlans(t)
	c := &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{VersionUpdateID: "u1"}}
	ro := Begin(c, v136, v137, "VersionUpdate", time.Now())
	env := &fakeEnv{backup: &v1alpha1.RestorePoint{Revision: 1}}
	run(t, &Stepper{}, c, ps, env, 4)
	if len(ro.Moved) == 0 {
		t.Fatalf("nothing moved yet: %+v", ro)
	}
	if got := Begin(c, v136, v136, "VersionUpdate", time.Now()); got != ro || !ro.Reverting {
		t.Fatalf("cancel: %+v", got)
	}
	run(t, &Stepper{}, c, ps, env, 40)
	if ro.Phase != v1alpha1.RolloutCancelled || len(ro.Moved) != 0 {
		t.Fatalf("rollout %+v", ro)
	}
	if Begin(c, v136, v137, "VersionUpdate", time.Now()) != nil {
		t.Error("the cancelled update started again")
	}
	c.Spec.VersionUpdateID = "u2"
	if again := Begin(c, v136, v137, "VersionUpdate", time.Now()); again == nil || again == ro || again.UpdateID != "u2" {
		t.Errorf("a new update did not start: %+v", again)
	}
}

// An upgrade records what the release it leaves serves; a rollback to that
// release refuses, before anything moves, when etcd holds objects stored as
// a version it does not serve.
func TestRollbackChecksStoredVersions(t *testing.T) {
	ps := testPlans(t)
	c := &v1alpha1.Cluster{}
	up := Begin(c, v136, v137, TypeUpgrade, time.Now())
	env := &fakeEnv{backup: &v1alpha1.RestorePoint{Revision: 1}}
	run(t, &Stepper{}, c, ps, env, 40)
	if up.Phase != v1alpha1.RolloutSuccessful || !slices.Equal(up.FromServes, []string{"apps/v1", "v1"}) {
		t.Fatalf("upgrade %+v", up)
	}
	back := Begin(c, v137, v136, TypeRollback, time.Now())
	if !slices.Equal(back.ToServes, up.FromServes) {
		t.Fatalf("the rollback does not know what %s serves: %+v", v136.Version, back)
	}
	env.stored = map[string]int{"v1": 10, "networking.k8s.io/v1beta2": 3}
	env.ran = nil
	run(t, &Stepper{}, c, ps, env, 10)
	if back.Phase != v1alpha1.RolloutFailed || !strings.Contains(back.Error, "networking.k8s.io/v1beta2 (3 objects)") || len(env.ran) != 0 {
		t.Fatalf("rollback over unservable objects: %+v, ran %v", back, env.ran)
	}
}

func TestStoredVersionsDecodesBothEncodings(t *testing.T) {
	u := runtime.Unknown{TypeMeta: runtime.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"}, Raw: []byte{1, 2}}
	pb, err := u.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	vals := fakeValues{
		"/registry/deployments/a":   append([]byte("k8s\x00"), pb...),
		"/registry/widgets/a":       []byte(`{"apiVersion":"example.com/v2","kind":"Widget"}`),
		"/registry/secrets/a":       []byte("k8s:enc:kms:v2:key:xxxx"),
		"/registry/masterleases/ip": []byte("not an object"),
	}
	got, err := StoredVersions(context.Background(), vals)
	if err != nil || len(got) != 2 || got["apps/v1"] != 1 || got["example.com/v2"] != 1 {
		t.Fatalf("StoredVersions = %v, %v", got, err)
	}
}

type fakeValues map[string][]byte

func (f fakeValues) Values(_ context.Context, prefix string, fn func(string, []byte)) error {
	for k, v := range f {
		if strings.HasPrefix(k, prefix) {
			fn(k, v)
		}
	}
	return nil
}

func TestRollbackReadiness(t *testing.T) {
	c := &v1alpha1.Cluster{}
	if v := RollbackReadiness(c, time.Now()); v != nil {
		t.Errorf("never upgraded: %+v", v)
	}
	done := metav1.NewTime(time.Now().Add(-time.Hour))
	c.Status.Rollout = &v1alpha1.RolloutStatus{Type: TypeUpgrade, From: "v1.36.3", To: "v1.37.2", Phase: v1alpha1.RolloutSuccessful,
		FinishedAt: &done, FromServes: []string{"v1"}}
	if v := RollbackReadiness(c, time.Now()); v == nil || v.Status != "PASSING" || !strings.Contains(v.Reason, "roll back to v1.36.3 until") {
		t.Errorf("an hour after: %+v", v)
	}
	if v := RollbackReadiness(c, time.Now().Add(8*24*time.Hour)); v == nil || v.Status != "WARNING" || !strings.Contains(v.Reason, "window closed") {
		t.Errorf("8 days after: %+v", v)
	}
}

// A platform change does not carry the last version update's ID (the
// region would settle that update from it), and one that failed is not
// started again for the same version.
func TestPlatformRolloutHasNoUpdateID(t *testing.T) {
	c := &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{VersionUpdateID: "u1"}}
	two := Target{Version: v137.Version, Platform: "cellplane.2"}
	ro := Begin(c, v137, two, TypePlatform, time.Now())
	if ro.UpdateID != "" || ro.Phase != v1alpha1.RolloutMembers {
		t.Fatalf("platform rollout %+v", ro)
	}
	ro.Phase = v1alpha1.RolloutFailed
	if Begin(c, v137, two, TypePlatform, time.Now()) != nil {
		t.Error("a failed platform version started again")
	}
}

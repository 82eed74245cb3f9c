package etcdstate

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// started is off whole seconds, as a record's times are.
var started = time.Date(2026, 3, 1, 12, 0, 0, 250_000_000, time.UTC)

// withRecords writes what a cluster whose etcd formed at formed, then lost
// etcd-a (replaced and promoted) and etcd-c (joining), leaves on disk.
func withRecords(t *testing.T, formed time.Time) *v1alpha1.Cluster {
	t.Helper()
	p := testPlan(t)
	r := For(p)
	must(t, r.MarkBootstrapped())
	must(t, os.Chtimes(filepath.Join(p.Dir(), stateDir, bootstrapped), formed, formed))
	must(t, r.SaveJoin("etcd-c", Join{ID: 0xc0ffee, StartedAt: started.Add(time.Hour)}))
	must(t, r.SaveJoin("etcd-a", Join{ID: 0xa, Promoted: true, StartedAt: started, PromotedAt: started.Add(time.Minute)}))
	c := &v1alpha1.Cluster{}
	must(t, Show(c, p))
	return c
}

func TestShow(t *testing.T) {
	at := func(t time.Time) *metav1.Time { mt := metav1.NewTime(t.Truncate(time.Second)); return &mt }
	c := withRecords(t, started)
	want := &v1alpha1.EtcdMembership{
		BootstrappedAt: at(started),
		Replacements: []v1alpha1.MemberReplacement{
			{Member: "etcd-a", LearnerID: "a", Phase: v1alpha1.ReplacementPromoted, StartedAt: at(started), PromotedAt: at(started.Add(time.Minute))},
			{Member: "etcd-c", LearnerID: "c0ffee", Phase: v1alpha1.ReplacementJoining, StartedAt: at(started.Add(time.Hour))},
		},
	}
	if got := c.Status.EtcdMembership; !equality.Semantic.DeepEqual(got, want) {
		t.Fatalf("status.etcdMembership = %+v, want %+v", got, want)
	}

	// Only formed: no replacements.
	p := testPlan(t)
	must(t, For(p).MarkBootstrapped())
	c = &v1alpha1.Cluster{}
	must(t, Show(c, p))
	if m := c.Status.EtcdMembership; m == nil || m.BootstrappedAt == nil || m.Replacements != nil {
		t.Errorf("formed, nothing replaced: %+v", m)
	}

	// No records at all (a new cluster, or one restored from scratch): a
	// mirror left over from before goes.
	c.Status.EtcdMembership = want
	must(t, Show(c, testPlan(t)))
	if c.Status.EtcdMembership != nil {
		t.Errorf("without records: %+v, want nil", c.Status.EtcdMembership)
	}
}

// The mirror is written on every pass: what Show makes of unchanged records
// must equal what the store gives back of the last write, or every pass
// would patch the status again.
func TestShowSurvivesTheStore(t *testing.T) {
	ctx := context.Background()
	cl := env.Client(t)
	shown := withRecords(t, started)
	c := &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: env.Namespace(t), Name: "demo"},
		Spec:       v1alpha1.ClusterSpec{Name: "demo", Version: "1.35"},
	}
	env.Create(t, c)
	c.Status.EtcdMembership = shown.Status.EtcdMembership
	must(t, cl.Status().Update(ctx, c))
	stored := &v1alpha1.Cluster{}
	must(t, cl.Get(ctx, client.ObjectKeyFromObject(c), stored))
	if !equality.Semantic.DeepEqual(stored.Status.EtcdMembership, shown.Status.EtcdMembership) {
		t.Fatalf("the store gave back %+v, want %+v", stored.Status.EtcdMembership, shown.Status.EtcdMembership)
	}
}

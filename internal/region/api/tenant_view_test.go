package api

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusternames"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/poll"
)

// internalStatus is what a cell reports of a cluster, with every kind of
// host internal a cell writes: addresses, PIDs, paths, the backup location.
func internalStatus() v1alpha1.ClusterStatus {
	now := metav1.Now()
	return v1alpha1.ClusterStatus{
		Status: v1alpha1.StatusActive, Endpoint: "https://127.101.128.1:443", CertificateAuthorityData: "Q0E=",
		Reason: "degraded: etcd-b (pid 31337): open /root/.cellplane/cells/cell-1/clusters/x/etcd-b/member: no such file",
		Components: []v1alpha1.ComponentStatus{
			{Name: "etcd-a", Zone: "a", Address: "127.101.32.1:2379", PID: 31337, Ready: true, Restarts: 1},
			{Name: "etcd-b", Zone: "b", Address: "127.101.64.1:2379", PID: 31338, Message: "dial tcp 127.101.64.1:2379: connection refused"},
		},
		Conditions: []metav1.Condition{{Type: v1alpha1.ConditionEtcdReady, Status: metav1.ConditionFalse, Reason: "Unhealthy",
			Message: "etcd-b: Get https://127.101.64.1:2379/health: EOF", LastTransitionTime: now}},
		Etcd: &v1alpha1.EtcdStatus{Quorum: true, Message: "defragmenting /var/lib/x", Members: []v1alpha1.EtcdMember{
			{Name: "etcd-b", Zone: "b", Error: "dial tcp 127.101.64.1:2379: connection refused"}}},
		Backup: &v1alpha1.BackupStatus{Location: "/root/.cellplane/backups", Set: "uid-1", LastError: "writing /root/.cellplane/backups/x: disk full", Revision: 9},
		Restore: &v1alpha1.RestoreStatus{Reason: v1alpha1.RestoreReasonRequested, Phase: v1alpha1.RestorePhaseFailed,
			Message: "etcdutl at /root/.cache/cellplane/etcd failed"},
	}
}

var leakPatterns = map[string]*regexp.Regexp{
	"an address": regexp.MustCompile(`127\.101\.(32|64)\.1`),
	"a PID":      regexp.MustCompile(`3133[78]`),
	"a path":     regexp.MustCompile(`/root/|/var/lib/`),
	"the cell":   regexp.MustCompile(`"cell"`),
}

func TestDescribeShowsTenantsNoHostInternals(t *testing.T) {
	h := newHarness(t)
	h.create(eks.CreateClusterInput{Name: "leaky"})
	h.pushStatus("leaky", internalStatus())
	for path, what := range map[string]string{
		"/clusters/leaky": "DescribeCluster", "/clusters": "ListClusters",
	} {
		body := string(h.do("GET", path, nil).body)
		for name, re := range leakPatterns {
			if loc := re.FindStringIndex(body); loc != nil {
				t.Errorf("%s shows %s: ...%s...", what, name, body[max(0, loc[0]-60):min(len(body), loc[1]+60)])
			}
		}
	}
	got := h.do("GET", "/clusters/leaky", nil).cluster(t)
	// The tenant still sees what it can act on.
	x := got.Cellplane
	if got.Endpoint != "https://127.101.128.1:443" || len(x.Components) != 2 || x.Components[0].Restarts != 1 ||
		x.Backup == nil || x.Backup.Set != "uid-1" || x.Backup.Revision != 9 || len(x.Conditions) != 1 ||
		!strings.Contains(x.Reason, "degraded: etcd-b") {
		t.Fatalf("tenant view lost what it should keep: %+v", x)
	}
	// A failure reason reaches the tenant as a health issue too, redacted.
	failed := internalStatus()
	failed.Status = v1alpha1.StatusFailed
	h.pushStatus("leaky", failed)
	got = h.do("GET", "/clusters/leaky", nil).cluster(t)
	if msg := got.Health.Issues[0].Message; !strings.Contains(msg, "open <path>: no such file") || strings.Contains(msg, "31337") {
		t.Fatalf("health issue %q", msg)
	}
}

func TestOperatorExtensionKeepsEverything(t *testing.T) {
	c := &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{Cell: "cell-1"}, Status: internalStatus()}
	x := eks.ExtensionOf(c)
	if x.Cell != "cell-1" || x.Components[0].PID != 31337 || x.Components[1].Address != "127.101.64.1:2379" ||
		x.Backup.Location != "/root/.cellplane/backups" || !strings.Contains(x.Reason, "/root/.cellplane") {
		t.Fatalf("operator view: %+v", x)
	}
	if x.ForTenant(); x.Components[0].PID != 31337 || x.Backup.Location == "" || !strings.Contains(x.Conditions[0].Message, "127.101") {
		t.Fatal("ForTenant changed the operator's extension")
	}
}

// withCache serves reads from a real informer cache of the test store, as
// region.NewRegionAPI composes the API.
func withCache(t *testing.T) harnessOption {
	c, err := cache.New(env.RESTConfig(t), cache.Options{Scheme: env.Client(t).Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	names := clusternames.New()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := names.Watch(ctx, c); err != nil {
		t.Fatal(err)
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		t.Fatal("cache did not sync")
	}
	return func(s *harnessSetup) { s.cfg.Cache, s.cfg.Names = c, names }
}

// TestCachedDescribeReadsItsOwnWrites: DescribeCluster is served from the
// cache, yet every answer after a write this API made shows the write.
func TestCachedDescribeReadsItsOwnWrites(t *testing.T) {
	h := newHarness(t, withCache(t))
	for i := range 20 {
		name := fmt.Sprintf("fresh-%d", i)
		h.create(eks.CreateClusterInput{Name: name})
		if got := h.do("GET", "/clusters/"+name, nil).cluster(t); got.Status != eks.StatusCreating {
			t.Fatalf("describe right after create: %s", got.Status)
		}
		h.do("POST", tagsPath(h.arn("local", "cluster/"+name)), eks.TagResourceInput{Tags: map[string]string{"n": fmt.Sprint(i)}})
		if got := h.do("GET", "/clusters/"+name, nil).cluster(t); got.Tags["n"] != fmt.Sprint(i) {
			t.Fatalf("describe right after tagging: %v", got.Tags)
		}
		h.do("DELETE", "/clusters/"+name, nil).cluster(t)
		if got := h.do("GET", "/clusters/"+name, nil).cluster(t); got.Status != eks.StatusDeleting {
			t.Fatalf("describe right after delete: %s", got.Status)
		}
	}
	// A write by another party (the cell's agent) shows within the cache's lag.
	h.create(eks.CreateClusterInput{Name: "agent"})
	h.pushStatus("agent", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive})
	err := poll.Until(context.Background(), 5*time.Second, 10*time.Millisecond, func() error {
		if st := h.do("GET", "/clusters/agent", nil).cluster(t).Status; st != eks.StatusActive {
			return fmt.Errorf("status %s", st)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the agent's status never showed: %v", err)
	}
	h.do("GET", "/clusters/nosuch", nil).wantError(t, 404, eks.ResourceNotFoundException, "No cluster found for name: nosuch.")
}

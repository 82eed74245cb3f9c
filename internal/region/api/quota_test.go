package api

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusterupdates"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/quota"
)

// withMaxClusters sets the default cluster limit of every account.
func withMaxClusters(n int) harnessOption {
	return func(s *harnessSetup) { s.cfg.MaxClusters = n }
}

// setAccountLimit sets the operator's override on the harness's account, as
// `cellplane account limit` does.
func (h *harness) setAccountLimit(v string) {
	h.t.Helper()
	h.ensureNamespace()
	var ns corev1.Namespace
	if err := h.store.Get(context.Background(), client.ObjectKey{Name: h.namespace()}, &ns); err != nil {
		h.t.Fatal(err)
	}
	if ns.Annotations == nil {
		ns.Annotations = map[string]string{}
	}
	ns.Annotations[v1alpha1.AnnotationMaxClusters] = v
	if err := h.store.Update(context.Background(), &ns); err != nil {
		h.t.Fatal(err)
	}
}

func TestClusterQuota(t *testing.T) {
	h := newHarness(t, withMaxClusters(2))
	h.create(eks.CreateClusterInput{Name: "one"})
	h.create(eks.CreateClusterInput{Name: "two"})
	h.do("POST", "/clusters", eks.CreateClusterInput{Name: "three"}).
		wantError(t, 400, eks.ResourceLimitExceededException, "account "+h.account+" has 2 clusters in this region and may have at most 2")
	if n, _ := h.count(); n != 2 {
		t.Fatalf("%d clusters stored after a refused create", n)
	}
	// A retry of a stored create is not a new cluster: the quota does not refuse it.
	h.do("POST", "/clusters", eks.CreateClusterInput{Name: "two"}).wantError(t, 409, eks.ResourceInUseException, "already exists")

	// Deleting clusters count until they are gone, as their control planes still run.
	h.do("DELETE", "/clusters/two", nil).cluster(t)
	h.do("POST", "/clusters", eks.CreateClusterInput{Name: "three"}).wantError(t, 400, eks.ResourceLimitExceededException, "may have at most 2")

	// The operator's override wins over the default, both ways.
	h.setAccountLimit("3")
	h.create(eks.CreateClusterInput{Name: "three"})
	h.setAccountLimit("1")
	h.do("POST", "/clusters", eks.CreateClusterInput{Name: "four"}).wantError(t, 400, eks.ResourceLimitExceededException, "may have at most 1")
	// An override that does not parse is ignored (and logged): the default applies.
	h.setAccountLimit("lots")
	h.do("POST", "/clusters", eks.CreateClusterInput{Name: "four"}).wantError(t, 400, eks.ResourceLimitExceededException, "may have at most 2")
	if !strings.Contains(h.logs.String(), "ignoring the account's cluster limit") {
		t.Error("the bad override was not logged")
	}
}

// TestClusterQuotaUnderConcurrentCreates: creates racing for the last slots
// never all pass; exactly the limit is stored.
func TestClusterQuotaUnderConcurrentCreates(t *testing.T) {
	const limit, callers = 3, 12
	h := newHarness(t, withMaxClusters(100))
	h.setAccountLimit(fmt.Sprint(limit))
	var wg sync.WaitGroup
	statuses := make([]int, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = h.do("POST", "/clusters", eks.CreateClusterInput{Name: fmt.Sprintf("race-%d", i)}).status
		}()
	}
	wg.Wait()
	ok := 0
	for _, s := range statuses {
		switch s {
		case 200:
			ok++
		case 400:
		default:
			t.Errorf("status %d", s)
		}
	}
	if n, _ := h.count(); ok != limit || n != limit {
		t.Fatalf("%d creates succeeded and %d clusters are stored; want %d of each", ok, n, limit)
	}
}

func TestNewHandlerValidatesMaxClusters(t *testing.T) {
	for _, n := range []int{-1, quota.MaxClustersLimit + 1} {
		_, err := NewHandler(Config{Client: env.Client(t), Placer: StaticPlacer{Cell: "c"}, MaxClusters: n})
		if err == nil || !strings.Contains(err.Error(), "default cluster limit") {
			t.Errorf("MaxClusters %d: %v", n, err)
		}
	}
}

func TestTagLimit(t *testing.T) {
	h := newHarness(t)
	fifty := map[string]string{}
	for i := range 50 {
		fifty[fmt.Sprintf("k%02d", i)] = "v"
	}
	h.create(eks.CreateClusterInput{Name: "tagged", Tags: fifty})
	arn := h.arn("local", "cluster/tagged")
	h.do("POST", tagsPath(arn), eks.TagResourceInput{Tags: map[string]string{"k51": "v"}}).
		wantError(t, 400, eks.ResourceLimitExceededException, "at most 50 tags; this would give it 51")
	// Replacing a value adds no tag: allowed at the limit.
	if r := h.do("POST", tagsPath(arn), eks.TagResourceInput{Tags: map[string]string{"k00": "w"}}); r.status != 200 {
		t.Fatalf("retagging at the limit: %d %s", r.status, r.body)
	}
	if tags := h.stored("tagged").Spec.Tags; len(tags) != 50 || tags["k00"] != "w" {
		t.Fatalf("tags %v", tags)
	}
}

// TestUpdateRecordsAreBounded: past clusterupdates.MaxPerCluster the oldest finished
// updates are pruned; the newest stay describable.
func TestUpdateRecordsAreBounded(t *testing.T) {
	h := newHarness(t)
	h.activeCluster("busy")
	var ids []string
	for i := range clusterupdates.MaxPerCluster + 5 {
		body := eks.UpdateClusterConfigInput{Logging: []byte(fmt.Sprintf(`{"clusterLogging":[{"types":["api"],"enabled":%t}]}`, i%2 == 0))}
		ids = append(ids, h.do("POST", "/clusters/busy/update-config", body).update(t).ID)
	}
	var list v1alpha1.ClusterUpdateList
	if err := h.store.List(context.Background(), &list, client.InNamespace(h.namespace())); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != clusterupdates.MaxPerCluster {
		t.Fatalf("%d update records kept; want %d", len(list.Items), clusterupdates.MaxPerCluster)
	}
	last := ids[len(ids)-1]
	if u := h.do("GET", "/clusters/busy/updates/"+last, nil).update(t); u.ID != last {
		t.Fatalf("newest update %+v", u)
	}
	h.do("GET", "/clusters/busy/updates/"+ids[0], nil).wantError(t, 404, eks.ResourceNotFoundException, "No update found")
}

package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/freshness"
	"github.com/cellplane/cellplane/internal/sigv4"
)

func TestDeletionProtection(t *testing.T) {
	h := newHarness(t)
	on := true
	got := h.create(eks.CreateClusterInput{Name: "guarded", DeletionProtection: &on})
	if got.DeletionProtection == nil || !*got.DeletionProtection {
		t.Fatalf("create answered deletionProtection %v", got.DeletionProtection)
	}
	if !h.stored("guarded").Spec.DeletionProtection {
		t.Fatal("deletionProtection not stored")
	}

	// While CREATING it could still be deleted, as on EKS; ACTIVE it cannot.
	h.pushStatus("guarded", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive})
	before := h.stored("guarded")
	h.do("DELETE", "/clusters/guarded", nil).wantError(t, 400, eks.InvalidRequestException, "deletion protection enabled")
	after := h.stored("guarded")
	if after.DeletionTimestamp != nil || after.ResourceVersion != before.ResourceVersion {
		t.Fatalf("a refused delete changed the cluster: deletionTimestamp %v, resourceVersion %s → %s",
			after.DeletionTimestamp, before.ResourceVersion, after.ResourceVersion)
	}
	if d := h.do("GET", "/clusters/guarded", nil).cluster(t); d.Status != eks.StatusActive || !*d.DeletionProtection {
		t.Fatalf("after the refused delete: %s, protection %v", d.Status, *d.DeletionProtection)
	}

	off := false
	u := h.do("POST", "/clusters/guarded/update-config", eks.UpdateClusterConfigInput{DeletionProtection: &off}).update(t)
	if u.Type != eks.UpdateTypeDeletionProtection || u.Status != eks.UpdateStatusSuccessful ||
		len(u.Params) != 1 || u.Params[0].Type != eks.UpdateParamDeletionProtection || u.Params[0].Value != "false" {
		t.Fatalf("update %+v", u)
	}
	if d := h.do("GET", "/clusters/guarded", nil).cluster(t); *d.DeletionProtection {
		t.Fatal("describe still shows protection on")
	}
	if d := h.do("DELETE", "/clusters/guarded", nil).cluster(t); d.Status != eks.StatusDeleting {
		t.Fatalf("delete after turning protection off: %s", d.Status)
	}
}

func TestDeletionProtectionDefaultsOffAndAllowsUnfinishedClusters(t *testing.T) {
	h := newHarness(t)
	if got := h.create(eks.CreateClusterInput{Name: "plain"}); got.DeletionProtection == nil || *got.DeletionProtection {
		t.Fatalf("default deletionProtection %v, want false and sent", got.DeletionProtection)
	}
	on := true
	h.create(eks.CreateClusterInput{Name: "failing", DeletionProtection: &on})
	h.pushStatus("failing", v1alpha1.ClusterStatus{Status: v1alpha1.StatusFailed, Reason: "etcd-b did not start"})
	if d := h.do("DELETE", "/clusters/failing", nil).cluster(t); d.Status != eks.StatusDeleting {
		t.Fatalf("a FAILED protected cluster: %s", d.Status)
	}
	h.create(eks.CreateClusterInput{Name: "creating", DeletionProtection: &on})
	if d := h.do("DELETE", "/clusters/creating", nil).cluster(t); d.Status != eks.StatusDeleting {
		t.Fatalf("a CREATING protected cluster: %s", d.Status)
	}
}

func TestDeletionProtectionUpdateIsRecordedAndIdempotent(t *testing.T) {
	h := newHarness(t)
	h.create(eks.CreateClusterInput{Name: "demo"})
	h.pushStatus("demo", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive})
	on := true
	body := eks.UpdateClusterConfigInput{DeletionProtection: &on, ClientRequestToken: "p1"}
	first := h.do("POST", "/clusters/demo/update-config", body).update(t)
	retry := h.do("POST", "/clusters/demo/update-config", body).update(t)
	if first.ID != retry.ID {
		t.Fatalf("a retry with the same token made another update: %s, %s", first.ID, retry.ID)
	}
	if !h.stored("demo").Spec.DeletionProtection {
		t.Fatal("protection not stored")
	}
	described := h.do("GET", "/clusters/demo/updates/"+first.ID, nil).update(t)
	if described.Type != eks.UpdateTypeDeletionProtection || described.Params[0].Value != "true" {
		t.Fatalf("DescribeUpdate %+v", described)
	}
}

func TestDeletionProtectionBadInput(t *testing.T) {
	h := newHarness(t)
	h.create(eks.CreateClusterInput{Name: "demo"})
	h.pushStatus("demo", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive})
	before := h.stored("demo").ResourceVersion
	for _, tc := range []struct {
		name, method, path, body string
		status                   int
		typ, msg                 string
	}{
		{"create with a string", "POST", "/clusters", `{"name":"x","deletionProtection":"yes"}`, 400, eks.InvalidRequestException, "The field deletionProtection must be a JSON boolean."},
		{"update with a number", "POST", "/clusters/demo/update-config", `{"deletionProtection":1}`, 400, eks.InvalidRequestException, "deletionProtection must be a JSON boolean"},
		{"update with logging too", "POST", "/clusters/demo/update-config", `{"deletionProtection":true,"logging":{"clusterLogging":[]}}`, 400, eks.InvalidParameterException, "deletionProtection is updated on its own"},
		{"update of nothing", "POST", "/clusters/demo/update-config", `{}`, 400, eks.InvalidParameterException, "pass logging, resourcesVpcConfig or deletionProtection"},
		{"update of an unknown cluster", "POST", "/clusters/nosuch/update-config", `{"deletionProtection":true}`, 404, eks.ResourceNotFoundException, "No cluster found for name: nosuch."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.do(tc.method, tc.path, tc.body).wantError(t, tc.status, tc.typ, tc.msg)
		})
	}
	if after := h.stored("demo"); after.ResourceVersion != before || after.Spec.DeletionProtection {
		t.Fatalf("bad input changed the cluster: resourceVersion %s → %s", before, after.ResourceVersion)
	}
	if clusters, _ := h.count(); clusters != 1 {
		t.Fatalf("%d clusters stored; bad input stored one", clusters)
	}
	var ups v1alpha1.ClusterUpdateList
	if err := h.store.List(context.Background(), &ups); err != nil {
		t.Fatal(err)
	}
	for _, u := range ups.Items {
		if u.Namespace == h.namespace() {
			t.Fatalf("bad input recorded update %s", u.Spec.ID)
		}
	}
}

// TestDeleteDecidesOnTheVersionItDeletes: protection turned on between the
// delete's read and its write makes the delete conflict and decide again,
// rather than delete a cluster that is protected by then.
func TestDeleteDecidesOnTheVersionItDeletes(t *testing.T) {
	h := newHarness(t)
	h.create(eks.CreateClusterInput{Name: "racy"})
	h.pushStatus("racy", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive})
	s := &server{store: h.store, log: discardLogger(), fresh: freshness.New()}
	stale := h.stored("racy")
	c := h.stored("racy")
	c.Spec.DeletionProtection = true
	if err := h.store.Update(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	req := newAccountRequest(t, h.account, "racy")
	err := s.markDeleted(req, stale)
	if err == nil {
		t.Fatal("a delete of a stale read succeeded")
	}
	if _, err := s.deleteCluster(req); classify(err).typ != eks.InvalidRequestException {
		t.Fatalf("delete after protection was turned on = %v", err)
	}
	if h.stored("racy").DeletionTimestamp != nil {
		t.Fatal("the protected cluster was deleted")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newAccountRequest is a DELETE of cluster name acting for account, as the
// router and the SigV4 verifier hand it to an operation.
func newAccountRequest(t *testing.T, account, name string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodDelete, "/clusters/"+name, nil)
	r.SetPathValue("name", name)
	return r.WithContext(sigv4.WithAccount(r.Context(), account))
}

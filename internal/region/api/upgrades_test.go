package api

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/eks"
)

// An upgrade moves the spec, asks for a restore point and names itself on
// the cluster; the cell's rollout settles it; a rollback then returns to the
// minor before it; CancelUpdate brings the spec back while one runs, and
// refuses anything else with no side effect.
func TestVersionUpdateSettleRollbackAndCancel(t *testing.T) {
	withReleases(t, components.Release{Minor: "1.36", Version: "v1.36.3"}, components.Release{Minor: "1.37", Version: "v1.37.2"})
	h := newHarness(t)
	h.activeClusterAt("demo", "1.36")
	h.pushStatus("demo", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive, KubernetesVersion: "v1.36.3"})

	u := h.do("POST", "/clusters/demo/updates", eks.UpdateClusterVersionInput{Version: "1.37"}).update(t)
	c := h.stored("demo")
	if c.Spec.Version != "1.37" || c.Spec.VersionUpdateID != u.ID || c.Annotations[v1alpha1.AnnotationBackupRequested] == "" {
		t.Fatalf("after UpdateClusterVersion: spec %+v, annotations %v", c.Spec, c.Annotations)
	}
	// The cell reports the rollout under way: DescribeCluster is UPDATING on 1.36.
	now := metav1.Now()
	ro := &v1alpha1.RolloutStatus{Type: eks.UpdateTypeVersion, UpdateID: u.ID, From: "v1.36.3", To: "v1.37.2", Phase: v1alpha1.RolloutMembers,
		Moved: []string{"kube-apiserver-a"}, Current: "kube-apiserver-b", StartedAt: &now}
	h.pushStatus("demo", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive, KubernetesVersion: "v1.36.3", Rollout: ro})
	if got := h.do("GET", "/clusters/demo", nil).cluster(t); got.Status != eks.StatusUpdating || got.Version != "1.36" {
		t.Errorf("during the rollout: %s on %s", got.Status, got.Version)
	}
	if got := h.do("GET", "/clusters/demo/updates/"+u.ID, nil).update(t); got.Status != eks.UpdateStatusInProgress || got.Cellplane == nil || got.Cellplane.Current != "kube-apiserver-b" {
		t.Errorf("in progress: %+v", got)
	}
	// Bad cancels change nothing.
	h.do("POST", "/clusters/demo/updates/00000000-0000-4000-8000-000000000000/cancel-update", map[string]any{}).wantError(t, 404, eks.ResourceNotFoundException, "No update found")
	logging := h.do("POST", "/clusters/demo/update-config", map[string]any{"logging": map[string]any{}})
	if logging.status == 200 {
		t.Fatal("a config update was accepted during the rollout")
	}
	// Cancel: the spec goes back to 1.36; the update stays in progress until
	// the cell has brought every member back.
	cancelled := h.do("POST", "/clusters/demo/updates/"+u.ID+"/cancel-update", map[string]any{}).update(t)
	if cancelled.Cancellation == nil || cancelled.Cancellation.Status != eks.UpdateStatusInProgress || h.stored("demo").Spec.Version != "1.36" {
		t.Fatalf("cancel: %+v, spec %s", cancelled, h.stored("demo").Spec.Version)
	}
	ro.Phase, ro.Moved, ro.Current, ro.Reverting, ro.FinishedAt = v1alpha1.RolloutCancelled, nil, "", true, &now
	h.pushStatus("demo", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive, KubernetesVersion: "v1.36.3", Rollout: ro})
	if got := h.do("GET", "/clusters/demo/updates/"+u.ID, nil).update(t); got.Status != eks.UpdateStatusCancelled || got.Cancellation.Status != eks.UpdateStatusSuccessful {
		t.Fatalf("after the cell went back: %+v", got)
	}
	h.do("POST", "/clusters/demo/updates/"+u.ID+"/cancel-update", map[string]any{}).wantError(t, 400, eks.InvalidRequestException, "only an update in progress")

	// Again, to the end: Successful, then a rollback within the window.
	u2 := h.do("POST", "/clusters/demo/updates", eks.UpdateClusterVersionInput{Version: "1.37"}).update(t)
	done := metav1.NewTime(time.Now())
	h.pushStatus("demo", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive, KubernetesVersion: "v1.37.2", Rollout: &v1alpha1.RolloutStatus{
		Type: eks.UpdateTypeVersion, UpdateID: u2.ID, From: "v1.36.3", To: "v1.37.2", Phase: v1alpha1.RolloutSuccessful, FinishedAt: &done}})
	if got := h.do("GET", "/clusters/demo/updates/"+u2.ID, nil).update(t); got.Status != eks.UpdateStatusSuccessful {
		t.Fatalf("after the rollout: %+v", got)
	}
	h.do("POST", "/clusters/demo/updates", eks.UpdateClusterVersionInput{Version: "1.36", RollbackConfig: &eks.RollbackConfig{TimeoutMinutes: ptr(int32(60))}}).
		wantError(t, 400, eks.InvalidParameterException, "timeoutMinutes")
	rb := h.do("POST", "/clusters/demo/updates", eks.UpdateClusterVersionInput{Version: "1.36", RollbackConfig: &eks.RollbackConfig{}}).update(t)
	if rb.Type != eks.UpdateTypeVersionRollback || h.stored("demo").Spec.Version != "1.36" {
		t.Fatalf("rollback: %+v", rb)
	}
}

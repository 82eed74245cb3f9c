package addons

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

func TestStatus(t *testing.T) {
	now := metav1.Now()
	issue := []v1alpha1.AddonIssue{{Code: "InsufficientNumberOfReplicas"}}
	for _, tc := range []struct {
		name     string
		gen      int64
		deleting bool
		st       v1alpha1.AddonStatus
		want     string
	}{
		{"new", 1, false, v1alpha1.AddonStatus{}, "CREATING"},
		{"applied", 1, false, v1alpha1.AddonStatus{ObservedGeneration: 1, Result: "Applied", EverApplied: true}, "ACTIVE"},
		{"applied, short of replicas", 1, false, v1alpha1.AddonStatus{ObservedGeneration: 1, Result: "Applied", EverApplied: true, Issues: issue}, "DEGRADED"},
		{"first apply failed", 1, false, v1alpha1.AddonStatus{ObservedGeneration: 1, Result: "Failed"}, "CREATE_FAILED"},
		{"update pending", 2, false, v1alpha1.AddonStatus{ObservedGeneration: 1, Result: "Applied", EverApplied: true}, "UPDATING"},
		{"update failed", 2, false, v1alpha1.AddonStatus{ObservedGeneration: 2, Result: "Failed", EverApplied: true}, "DEGRADED"},
		{"deleting", 2, true, v1alpha1.AddonStatus{ObservedGeneration: 2, Result: "Applied", EverApplied: true}, "DELETING"},
	} {
		a := &v1alpha1.Addon{ObjectMeta: metav1.ObjectMeta{Generation: tc.gen}, Status: tc.st}
		if tc.deleting {
			a.DeletionTimestamp = &now
		}
		if got := Status(a); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestCompareVersions(t *testing.T) {
	if compareVersions("v1.35.10-eksbuild.1", "v1.35.4-eksbuild.1") <= 0 || compareVersions("v1.35.4-eksbuild.1", "v1.35.4-eksbuild.2") >= 0 {
		t.Fatal("order")
	}
}

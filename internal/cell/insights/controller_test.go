package insights

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

func TestDue(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	r := &Reconciler{Interval: 24 * time.Hour}
	ended := metav1.NewMicroTime(now.Add(-time.Hour))
	for _, tc := range []struct {
		name    string
		ann     string
		st      *v1alpha1.InsightsStatus
		wantDue bool
	}{
		{"never refreshed", "", nil, true},
		{"refreshed an hour ago", "", &v1alpha1.InsightsStatus{EndedAt: &ended}, false},
		{"asked since", "t2", &v1alpha1.InsightsStatus{Request: "t1", EndedAt: &ended}, true},
		{"request answered", "t2", &v1alpha1.InsightsStatus{Request: "t2", EndedAt: &ended}, false},
		{"a day old", "", &v1alpha1.InsightsStatus{EndedAt: &metav1.MicroTime{Time: now.Add(-25 * time.Hour)}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &v1alpha1.Cluster{}
			if tc.ann != "" {
				c.Annotations = map[string]string{v1alpha1.AnnotationInsightsRefreshRequested: tc.ann}
			}
			c.Status.Insights = tc.st
			wait := r.due(c, now)
			if (wait <= 0) != tc.wantDue {
				t.Fatalf("wait %v, want due=%v", wait, tc.wantDue)
			}
			if !tc.wantDue && wait != 23*time.Hour {
				t.Fatalf("next refresh in %v, want 23h", wait)
			}
		})
	}
}

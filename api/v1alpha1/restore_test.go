package v1alpha1

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPendingRestoreRequest(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	req := `{"id":"` + t0.Add(500*time.Millisecond).Format(time.RFC3339Nano) + `","revision":7}`
	started := func(d time.Duration) *metav1.Time { mt := metav1.NewTime(t0.Add(d)); return &mt }
	tests := []struct {
		name        string
		annotation  string
		status      *RestoreStatus
		wantPending bool
		wantErr     bool
	}{
		{"no request", "", nil, false, false},
		{"never restored", req, nil, true, false},
		{"answered", req, &RestoreStatus{RequestID: t0.Add(500 * time.Millisecond).Format(time.RFC3339Nano), Phase: RestorePhaseDone}, false, false},
		{"older restore answered another", req, &RestoreStatus{RequestID: "x", StartedAt: started(-time.Hour)}, true, false},
		{"superseded by a later automatic restore", req, &RestoreStatus{Reason: RestoreReasonQuorumLost, StartedAt: started(time.Minute)}, false, false},
		{"not JSON", "{", nil, true, true},
		{"negative revision", `{"id":"a","revision":-1}`, nil, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Cluster{Status: ClusterStatus{Restore: tt.status}}
			if tt.annotation != "" {
				c.Annotations = map[string]string{AnnotationRestoreRequested: tt.annotation}
			}
			_, pending, err := PendingRestoreRequest(c)
			if pending != tt.wantPending || (err != nil) != tt.wantErr {
				t.Errorf("pending, err = %v, %v; want %v, error %v", pending, err, tt.wantPending, tt.wantErr)
			}
		})
	}
}

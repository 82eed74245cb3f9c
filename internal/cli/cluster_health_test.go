package cli

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

func TestClusterHealth(t *testing.T) {
	r := newRegion(t)
	r.must("cluster", "create", "demo")
	out, _ := r.must("cluster", "health", "demo")
	if !strings.Contains(out, "not measured yet") {
		t.Errorf("health before any measurement printed %q", out)
	}

	seen := metav1.NewTime(time.Now().Add(-3 * time.Second))
	point := metav1.NewTime(time.Now().Add(-30 * time.Second))
	r.report("demo", v1alpha1.ClusterStatus{
		Status: v1alpha1.StatusActive,
		Etcd: &v1alpha1.EtcdStatus{
			Quorum: true, Leader: "etcd-a", QuotaBytes: 100 << 20, Alarms: []string{"NOSPACE"}, ObservedAt: &seen,
			LastDefragmentation: &seen, Message: "recovered from NOSPACE",
			Members: []v1alpha1.EtcdMember{
				{Name: "etcd-a", ID: "8e9e05c52164694d", Zone: "a", Leader: true, Healthy: true, DBSizeBytes: 40 << 20, DBSizeInUseBytes: 10 << 20},
				{Name: "etcd-b", ID: "91bc3c398fb3c146", Zone: "b", Healthy: false, Error: "connection refused"},
			},
		},
		Backup: &v1alpha1.BackupStatus{Location: "s3://backups/demo", LastSuccessTime: &seen, Revision: 4242, RecoveryPointTime: &point},
	})
	out, _ = r.must("cluster", "health", "demo")
	for _, want := range []string{"demo (ACTIVE)", "Quorum:", "true", "Leader:", "etcd-a", "100.0 MiB, 40% used", "Fragmentation:", "75%",
		"NOSPACE", "recovered from NOSPACE", "8e9e05c52164694d", "40.0 MiB", "connection refused", "never",
		"4242", "Recovery point:"} {
		if !strings.Contains(out, want) {
			t.Errorf("health printed %q, want %q in it", out, want)
		}
	}
	// The backup location is the operator's to see; this data directory has
	// no region store to read it from (the e2e tests see it through one).
	if strings.Contains(out, "s3://backups/demo") {
		t.Errorf("health's tenant view shows the backup location: %s", out)
	}

	out, _ = r.must("cluster", "health", "demo", "-o", "json")
	var h health
	if err := json.Unmarshal([]byte(out), &h); err != nil {
		t.Fatalf("health -o json = %q: %v", out, err)
	}
	if h.Cluster != "demo" || h.Etcd == nil || len(h.Etcd.Members) != 2 || h.QuotaUsedPercent != 40 || h.FragmentationPercent != 75 ||
		h.RecoveryPointSeconds == nil || *h.RecoveryPointSeconds < 29 || h.Backup.Revision != 4242 {
		t.Errorf("health -o json = %s", out)
	}
}

package tenant

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/runtime/cgroup"
)

func TestClusterLimitsMakeRoomForEtcd(t *testing.T) {
	base := cgroup.DefaultLimits()
	for quota, want := range map[int64]int64{
		0:       base.MemoryBytes + 3*v1alpha1.DefaultEtcdQuotaBytes, // the default quota
		1 << 30: base.MemoryBytes + 3<<30,
	} {
		c := &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{EtcdQuotaBytes: quota}}
		got := clusterLimits(Isolation{Limits: base}, c)
		if got.MemoryBytes != want {
			t.Errorf("quota %d: memory limit %d, want %d", quota, got.MemoryBytes, want)
		}
		if got.CPUWeight != base.CPUWeight || got.Pids != base.Pids {
			t.Errorf("quota %d: CPU or task limits changed: %+v", quota, got)
		}
	}
	if base != cgroup.DefaultLimits() {
		t.Error("clusterLimits changed the cell's limits")
	}
}

// TestSettledClusterGetsTheSettledCap: a cluster gets the settled CPU cap
// only while ACTIVE and Ready; creating or degraded it keeps the cell's cap
// (none by default), and a tighter cell cap stays.
func TestSettledClusterGetsTheSettledCap(t *testing.T) {
	ready := func(ok bool) []metav1.Condition {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		return []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: s}}
	}
	for _, tc := range []struct {
		name       string
		status     string
		conditions []metav1.Condition
		cell       int
		settled    int
		want       int
	}{
		{"creating", v1alpha1.StatusCreating, ready(false), 2000, 1000, 2000},
		{"active and ready", v1alpha1.StatusActive, ready(true), 2000, 1000, 1000},
		{"active, degraded", v1alpha1.StatusActive, ready(false), 2000, 1000, 2000},
		{"active, no condition yet", v1alpha1.StatusActive, nil, 2000, 1000, 2000},
		{"no cell cap", v1alpha1.StatusActive, ready(true), 0, 1000, 1000},
		{"tighter cell cap stays", v1alpha1.StatusActive, ready(true), 500, 1000, 500},
		{"no settled cap", v1alpha1.StatusActive, ready(true), 2000, 0, 2000},
	} {
		c := &v1alpha1.Cluster{Status: v1alpha1.ClusterStatus{Status: tc.status, Conditions: tc.conditions}}
		iso := Isolation{Limits: cgroup.Limits{CPUWeight: 100, CPUMaxMilli: tc.cell, MemoryBytes: 1 << 30, Pids: 10}, SettledCPUMaxMilli: tc.settled}
		if got := clusterLimits(iso, c).CPUMaxMilli; got != tc.want {
			t.Errorf("%s: CPU cap %d, want %d", tc.name, got, tc.want)
		}
	}
}

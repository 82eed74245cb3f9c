package tenant

import (
	"testing"

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
		got := clusterLimits(base, c)
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

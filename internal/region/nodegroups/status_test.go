package nodegroups

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

func TestWireStatus(t *testing.T) {
	now := metav1.Now()
	for _, tc := range []struct {
		name     string
		gen      int64
		st       v1alpha1.NodeGroupStatus
		deleted  bool
		want     string
		decided  bool
		decision string
	}{
		{"never reported", 1, v1alpha1.NodeGroupStatus{}, false, "CREATING", false, ""},
		{"creating", 1, v1alpha1.NodeGroupStatus{Phase: "CREATING"}, false, "CREATING", false, ""},
		{"spec changed while creating", 2, v1alpha1.NodeGroupStatus{Phase: "CREATING", ObservedGeneration: 1}, false, "CREATING", false, ""},
		{"active", 2, v1alpha1.NodeGroupStatus{Phase: "ACTIVE", ObservedGeneration: 2}, false, "ACTIVE", true, "Successful"},
		{"active, spec newer", 3, v1alpha1.NodeGroupStatus{Phase: "ACTIVE", ObservedGeneration: 2}, false, "UPDATING", false, ""},
		{"degraded", 2, v1alpha1.NodeGroupStatus{Phase: "DEGRADED", ObservedGeneration: 2}, false, "DEGRADED", true, "Failed"},
		{"deleted", 2, v1alpha1.NodeGroupStatus{Phase: "ACTIVE", ObservedGeneration: 2}, true, "DELETING", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ng := &v1alpha1.NodeGroup{ObjectMeta: metav1.ObjectMeta{Generation: tc.gen}, Status: tc.st}
			if tc.deleted {
				ng.DeletionTimestamp = &now
			}
			if got := WireStatus(ng); got != tc.want {
				t.Errorf("WireStatus = %s, want %s", got, tc.want)
			}
			if done, how := settled(ng); done != tc.decided || how != tc.decision {
				t.Errorf("settled = %v %q, want %v %q", done, how, tc.decided, tc.decision)
			}
		})
	}
}

func TestZonesOfSubnets(t *testing.T) {
	for _, tc := range []struct {
		subnets []string
		want    string
	}{
		{[]string{"subnet-c", "b", "subnet-c"}, "b,c"},
		{[]string{"subnet-0abc"}, "a,b,c"},
		{[]string{"a"}, "a"},
	} {
		got := zonesOf(tc.subnets)
		if s := strings.Join(got, ","); s != tc.want {
			t.Errorf("zonesOf(%v) = %s, want %s", tc.subnets, s, tc.want)
		}
	}
}

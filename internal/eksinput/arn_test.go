package eksinput

import "testing"

func TestClusterARN(t *testing.T) {
	region, account, name, ok := ClusterARN("arn:cellplane:eks:r1:123456789012:cluster/My_Cluster")
	if !ok || region != "r1" || account != "123456789012" || name != "My_Cluster" {
		t.Fatalf("got %q %q %q %v", region, account, name, ok)
	}
	for _, bad := range []string{"", "arn:cellplane:eks::123456789012:cluster/x", "arn:cellplane:eks:r:123456789012:cluster/", "arn:cellplane:eks:r:123456789012:cluster/a:b", "arn:cellplane:iam:r:123456789012:cluster/x"} {
		if _, _, _, ok := ClusterARN(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}

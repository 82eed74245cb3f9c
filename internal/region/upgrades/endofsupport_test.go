package upgrades

import (
	"testing"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// 1.34 (released 2025-08-27) leaves standard support on 2026-10-27 and
// extended support on 2027-10-27: a STANDARD cluster is upgraded after the
// first, an EXTENDED one (the default) after the second; only ACTIVE
// clusters with nothing in progress move.
func TestDue(t *testing.T) {
	at := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	cluster := func(policy string) *v1alpha1.Cluster {
		c := &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{Name: "old", Version: "1.34"}}
		c.Status.Status, c.Status.KubernetesVersion = v1alpha1.StatusActive, "v1.34.4"
		if policy != "" {
			c.Spec.UpgradePolicy = &v1alpha1.UpgradePolicy{SupportType: policy}
		}
		return c
	}
	for _, tc := range []struct {
		policy, day string
		due         bool
	}{
		{v1alpha1.SupportStandard, "2026-10-26", false},
		{v1alpha1.SupportStandard, "2026-10-27", true},
		{"", "2026-12-03", false},
		{v1alpha1.SupportExtended, "2027-10-26", false},
		{"", "2027-10-27", true},
	} {
		target, due := Due(cluster(tc.policy), at(tc.day))
		if due != tc.due || due && target != "1.35" {
			t.Errorf("policy %q on %s: due %v to %q, want %v", tc.policy, tc.day, due, target, tc.due)
		}
	}
	busy := cluster(v1alpha1.SupportStandard)
	busy.Status.Rollout = &v1alpha1.RolloutStatus{Phase: v1alpha1.RolloutMembers}
	creating := cluster(v1alpha1.SupportStandard)
	creating.Status.Status = v1alpha1.StatusCreating
	newest := cluster(v1alpha1.SupportStandard)
	newest.Status.KubernetesVersion = "v1.37.2"
	for name, c := range map[string]*v1alpha1.Cluster{"rollout running": busy, "creating": creating, "newest minor": newest} {
		if _, due := Due(c, at("2030-01-01")); due {
			t.Errorf("%s: due", name)
		}
	}
}

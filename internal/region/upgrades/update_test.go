package upgrades

import (
	"errors"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestNextMinor(t *testing.T) {
	for in, want := range map[string]string{"1.35": "1.36", "1.9": "1.10"} {
		if got, ok := nextMinor(in); !ok || got != want {
			t.Errorf("nextMinor(%s) = %s, %v", in, got, ok)
		}
	}
	if _, ok := nextMinor("x"); ok {
		t.Error("nextMinor accepted x")
	}
}

func upgraded(finished time.Time) *v1alpha1.Cluster {
	t := metav1.NewTime(finished)
	c := &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{Name: "demo", Version: "1.37"}}
	c.Status.KubernetesVersion = "v1.37.2"
	c.Status.Rollout = &v1alpha1.RolloutStatus{Type: eks.UpdateTypeVersion, From: "v1.36.3", To: "v1.37.2", Phase: v1alpha1.RolloutSuccessful, FinishedAt: &t}
	return c
}

// A rollback goes only to the minor before the last upgrade, within seven
// days of it, and only after an upgrade that succeeded.
func TestCheckRollback(t *testing.T) {
	now := time.Now()
	if err := checkRollback(upgraded(now.Add(-time.Hour)), "1.36", now); err != nil {
		t.Errorf("an hour after the upgrade: %v", err)
	}
	for name, tc := range map[string]struct {
		c      *v1alpha1.Cluster
		target string
		want   string
	}{
		"window closed":  {upgraded(now.Add(-8 * 24 * time.Hour)), "1.36", "rollback window"},
		"other minor":    {upgraded(now.Add(-time.Hour)), "1.35", "only to 1.36"},
		"never upgraded": {&v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{Name: "demo", Version: "1.37"}}, "1.36", "no upgrade to roll back"},
	} {
		err := checkRollback(tc.c, tc.target, now)
		var pub *errdefs.PublicError
		if !errors.As(err, &pub) || !strings.Contains(pub.Msg, tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	failed := upgraded(now)
	failed.Status.Rollout.Phase = v1alpha1.RolloutFailed
	if err := checkRollback(failed, "1.36", now); err == nil {
		t.Error("rolled back an upgrade that failed")
	}
}

func TestCheckUpgrade(t *testing.T) {
	o := &Operations{}
	c := &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{Name: "demo", Version: "1.36"}}
	c.Status.KubernetesVersion = "v1.36.3"
	if err := o.checkUpgrade(c, "1.37", []string{"1.36", "1.34"}, false); err != nil {
		t.Errorf("1.36 → 1.37 with node groups on 1.36 and 1.34: %v", err)
	}
	for _, tc := range []struct {
		target string
		ngs    []string
		want   string
	}{
		{"1.36", nil, "already runs"},
		{"1.38", nil, "one minor version at a time"},
		{"1.35", nil, "rollbackConfig"},
		{"1.37", []string{"1.33"}, "more than 3 minors behind"},
	} {
		if err := o.checkUpgrade(c, tc.target, tc.ngs, false); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("to %s with %v: %v, want %q", tc.target, tc.ngs, err, tc.want)
		}
	}
	// A failed update leaves spec ahead of what runs: the next attempt is
	// judged against what runs.
	c.Spec.Version = "1.37"
	if err := o.checkUpgrade(c, "1.37", nil, false); err != nil {
		t.Errorf("retrying after a failed upgrade: %v", err)
	}
	refused := errors.New("insight in ERROR")
	o.RefuseUpgrade = func(*v1alpha1.Cluster, string) error { return refused }
	if err := o.checkUpgrade(c, "1.37", nil, false); !errors.Is(err, refused) {
		t.Errorf("not forced: %v", err)
	}
	if err := o.checkUpgrade(c, "1.37", nil, true); err != nil {
		t.Errorf("forced: %v", err)
	}
}

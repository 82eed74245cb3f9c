package zones

import (
	"os"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// An operator's shift stops a zone's controllers; an impaired zone loses its
// etcd member too; API servers always keep running, drained.
func TestStoppedByShift(t *testing.T) {
	member := func(kind, zone string) controlplane.Member {
		return controlplane.Member{Kind: kind, Zone: zone, Component: component(t, kind)}
	}
	z := testShifts(t)
	if err := z.Set([]string{"a"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		m    controlplane.Member
		want bool
	}{
		{member(controlplane.KindControllerManager, "a"), true},
		{member(controlplane.KindScheduler, "a"), true},
		{member(controlplane.KindEtcd, "a"), false},
		{member(controlplane.KindAPIServer, "a"), false},
		{member(controlplane.KindControllerManager, "b"), false},
	} {
		if got := z.StoppedByShift(tc.m); got != tc.want {
			t.Errorf("shifted zone a: %s-%s stopped = %v, want %v", tc.m.Kind, tc.m.Zone, got, tc.want)
		}
	}
	changed := z.Changed()
	z.SetImpaired([]string{"b"})
	select {
	case <-changed:
	default:
		t.Error("an impaired zone was not announced")
	}
	if !z.StoppedByShift(member(controlplane.KindEtcd, "b")) || z.StoppedByShift(member(controlplane.KindAPIServer, "b")) {
		t.Error("impaired zone b: want its etcd member stopped and its API server running")
	}
	if got := z.Zones(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("Zones() = %v, want shifted and impaired together", got)
	}
	if !z.Shifted("b") || !slices.Equal(z.Impaired(), []string{"b"}) {
		t.Errorf("Shifted(b) = %v, Impaired() = %v", z.Shifted("b"), z.Impaired())
	}
}

// A nil *Shifts shifts nothing: a cell without zone shifts passes nil.
func TestNilShifts(t *testing.T) {
	var z *Shifts
	m := controlplane.Member{Kind: controlplane.KindControllerManager, Zone: "a", Component: component(t, controlplane.KindControllerManager)}
	if z.Shifted("a") || z.Zones() != nil || z.Impaired() != nil || z.StoppedByShift(m) {
		t.Error("a nil Shifts has a zone out")
	}
}

// The operator's shifts are saved, so a cell restarted while the region is
// away keeps them; impaired zones are probed afresh and not saved.
func TestShiftsSaved(t *testing.T) {
	z := testShifts(t)
	changed := z.Changed()
	must(t, z.Set([]string{"c", "a"}))
	select {
	case <-changed:
	default:
		t.Error("the change was not announced")
	}
	again := z.Changed()
	must(t, z.Set([]string{"a", "c"})) // the same, in another order
	select {
	case <-again:
		t.Error("an unchanged set of shifts was announced")
	default:
	}
	z.SetImpaired([]string{"b"})
	reloaded, err := Load(z.path, discard)
	if err != nil || !slices.Equal(reloaded.Zones(), []string{"a", "c"}) || reloaded.Impaired() != nil {
		t.Fatalf("reloaded %v (impaired %v), %v; want [a c] and nothing impaired", reloaded.Zones(), reloaded.Impaired(), err)
	}
	must(t, os.WriteFile(z.path, []byte("{"), 0o600))
	if _, err := Load(z.path, discard); err == nil {
		t.Error("a corrupt file loaded")
	}
}

// With no zone out, or nothing to move, a rollout goes on and the pause
// condition goes; with a zone out it holds and says why.
func TestHoldRollout(t *testing.T) {
	z := testShifts(t)
	c := &v1alpha1.Cluster{}
	tenant.SetCondition(c, v1alpha1.ConditionChangesPaused, true, "ZoneOutOfRotation", "")
	if z.HoldRollout(c, true, "v1.37.2") || meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionChangesPaused) != nil {
		t.Errorf("no zone out: held, conditions %v", c.Status.Conditions)
	}
	z.SetImpaired([]string{"a"})
	if !z.HoldRollout(c, true, "v1.37.2") {
		t.Error("zone a impaired: the rollout went on")
	}
	cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionChangesPaused)
	if cond == nil || cond.Status != metav1.ConditionTrue || !strings.Contains(cond.Message, "v1.37.2 waits until zone a") {
		t.Errorf("zone out: condition %+v", cond)
	}
	if z.HoldRollout(c, false, "v1.37.2") || meta.IsStatusConditionTrue(c.Status.Conditions, v1alpha1.ConditionChangesPaused) {
		t.Errorf("zone out, nothing to move: held, conditions %v", c.Status.Conditions)
	}
}

func TestShowShift(t *testing.T) {
	for _, tc := range []struct {
		name             string
		shifted, impair  []string
		reason, contains string // reason "" wants no condition
	}{
		{name: "no zone out"},
		{name: "shifted", shifted: []string{"a"}, reason: "Evacuated", contains: "zone a is shifted out"},
		{name: "impaired", impair: []string{"b"}, reason: "ZoneImpaired", contains: "zone b impaired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			z := testShifts(t)
			must(t, z.Set(tc.shifted))
			z.SetImpaired(tc.impair)
			c := &v1alpha1.Cluster{}
			// A condition left from a shift that ended goes.
			tenant.SetCondition(c, v1alpha1.ConditionZoneShifted, true, "Evacuated", "old")
			z.ShowShift(c)
			cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionZoneShifted)
			switch {
			case tc.reason == "" && cond != nil:
				t.Errorf("condition %+v with no zone out", cond)
			case tc.reason != "" && (cond == nil || cond.Status != metav1.ConditionTrue || cond.Reason != tc.reason ||
				!strings.Contains(cond.Message, tc.contains)):
				t.Errorf("condition %+v, want True %s saying %q", cond, tc.reason, tc.contains)
			}
		})
	}
}

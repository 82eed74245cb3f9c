package etcdstate

import (
	"errors"
	"os"
	"testing"

	"github.com/cellplane/cellplane/internal/controlplane"
)

func TestStartGuard(t *testing.T) {
	for _, tc := range []struct {
		name         string
		bootstrapped bool
		data         bool
		join         *Join // etcd-b's record; nil: none
		lost         bool  // want ErrDataLost
	}{
		{name: "first start: etcd forms from empty directories", data: false},
		{name: "restart on its data", bootstrapped: true, data: true},
		{name: "data lost after etcd formed", bootstrapped: true, lost: true},
		{name: "learner just added back, starting empty", bootstrapped: true, join: &Join{ID: 7}},
		{name: "learner added back, with data by now", bootstrapped: true, data: true, join: &Join{ID: 7}},
		// Promoted is a voter like any other: empty, it must be replaced again.
		{name: "promoted member lost its data again", bootstrapped: true, join: &Join{ID: 7, Promoted: true}, lost: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPlan(t)
			r, b := For(p), etcdMember(t, p, "b")
			if tc.bootstrapped {
				must(t, r.MarkBootstrapped())
			}
			if tc.data {
				giveData(t, p, b)
			}
			if tc.join != nil {
				must(t, r.SaveJoin(b.Name(), *tc.join))
			}
			err := StartGuard(p, b)()
			if tc.lost != errors.Is(err, ErrDataLost) || (!tc.lost && err != nil) {
				t.Fatalf("StartGuard = %v, want data lost: %v", err, tc.lost)
			}
		})
	}
}

// A replacement record the guard cannot read keeps the member stopped, with
// the reason, rather than starting it empty.
func TestStartGuardCorruptJoin(t *testing.T) {
	p := testPlan(t)
	r, b := For(p), etcdMember(t, p, "b")
	must(t, r.MarkBootstrapped())
	must(t, os.MkdirAll(r.path(stateDir), 0o700))
	must(t, os.WriteFile(r.path(stateDir, b.Name()+joinSuffix), []byte("{"), 0o600))
	if err := StartGuard(p, b)(); err == nil || errors.Is(err, ErrDataLost) {
		t.Fatalf("StartGuard with a corrupt record = %v, want the read error", err)
	}
}

func TestHeld(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []func(Records) error
		// held by tier: etcd, API servers, controllers
		store, api, controllers bool
	}{
		{name: "no restore"},
		{name: "restoring the full", steps: []func(Records) error{saveInPlace},
			store: true, api: true, controllers: true},
		{name: "replaying: etcd alone runs", steps: []func(Records) error{saveInPlace, Records.MarkInPlaceRestored},
			api: true, controllers: true},
		{name: "done", steps: []func(Records) error{saveInPlace, Records.MarkInPlaceRestored, Records.MarkInPlaceDone}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPlan(t)
			for _, step := range tc.steps {
				must(t, step(For(p)))
			}
			want := map[controlplane.Tier]bool{controlplane.TierStore: tc.store, controlplane.TierAPI: tc.api,
				controlplane.TierControllers: tc.controllers}
			for _, m := range p.AllMembers() {
				if got := Held(p, m); got != want[m.Component.Tier()] {
					t.Errorf("Held(%s) = %v, want %v", m.Name(), got, want[m.Component.Tier()])
				}
			}
		})
	}
}

func saveInPlace(r Records) error {
	return r.SaveInPlace(InPlaceJob{Set: "u1", Plan: testBackupPlan()})
}

package zones

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/endpoint"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/lb"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// fakeStopper records the members it was asked to stop.
type fakeStopper struct {
	mu      sync.Mutex
	stopped []process.Spec
}

func (f *fakeStopper) Stop(_ context.Context, s process.Spec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, s)
	return nil
}

func (f *fakeStopper) ids() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.stopped {
		out = append(out, s.ID)
	}
	slices.Sort(out)
	return out
}

func cluster(name, status string, slot *int32) v1alpha1.Cluster {
	return v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: "acct-1", Name: name, UID: types.UID("uid-" + name)},
		Spec: v1alpha1.ClusterSpec{Name: name, Version: "1.35"}, Status: v1alpha1.ClusterStatus{Status: status, Slot: slot}}
}

func slot(s int32) *int32 { return &s }

// An evacuation drains a shifted zone's API servers and stops its
// controllers in every ready cluster at once; clusters not ready are left to
// their own passes, and what an in-place restore holds stopped is its own.
func TestEvacuate(t *testing.T) {
	b, err := ipam.ParseBlock("127.249", 1)
	if err != nil {
		t.Fatal(err)
	}
	layout := tenant.Layout{Dir: t.TempDir(), Cell: b.Cell(1)}
	z := testShifts(t)
	lbDir := t.TempDir()
	stop := &fakeStopper{}
	e := &Evacuator{Shifts: z, Layout: layout, Endpoint: &endpoint.Writer{Dir: lbDir, Zones: z}, Runner: stop, Logger: discard}
	clusters := []v1alpha1.Cluster{
		cluster("ready", v1alpha1.StatusActive, slot(1)),
		cluster("creating", v1alpha1.StatusCreating, slot(2)),
		cluster("unplaced", v1alpha1.StatusActive, nil),
		cluster("restoring", v1alpha1.StatusActive, slot(4)),
	}
	must(t, etcdstate.For(layout.Addresses(&clusters[3])).SaveInPlace(etcdstate.InPlaceJob{Set: "u1"}))
	must(t, z.Set([]string{"a"}))
	// The lease movers it starts find no kubeconfig here and give up; the
	// context ends them in any case.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	e.Evacuate(ctx, clusters)

	want := []string{"acct-1/ready/kube-controller-manager-a", "acct-1/ready/kube-scheduler-a"}
	if got := stop.ids(); !slices.Equal(got, want) {
		t.Errorf("stopped %q, want %q", got, want)
	}
	for _, s := range stop.stopped {
		if s.StopTimeout != shiftStopTimeout {
			t.Errorf("%s stopped with grace %s, want %s", s.ID, s.StopTimeout, shiftStopTimeout)
		}
	}
	for _, c := range clusters {
		// Endpoint files are named <namespace>.<name>.json (Plan.EndpointID).
		data, err := os.ReadFile(filepath.Join(lbDir, c.Namespace+"."+c.Name+".json"))
		if ready := c.Status.Status == v1alpha1.StatusActive && c.Status.Slot != nil; !ready {
			if !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: endpoint written (%v), want it left to the cluster's pass", c.Name, err)
			}
			continue
		}
		var cfg lb.EndpointConfig
		if err == nil {
			err = json.Unmarshal(data, &cfg)
		}
		if err != nil {
			t.Fatalf("%s: endpoint: %v", c.Name, err)
		}
		for _, be := range cfg.Backends {
			if drain := be.Name == "kube-apiserver-a"; be.Draining != drain {
				t.Errorf("%s: backend %s draining %v, want %v", c.Name, be.Name, be.Draining, drain)
			}
		}
	}
}

// Every zone change wakes every cluster of the cell, after handing the list
// to first (the evacuation), and the wake-up ends with its context.
func TestWakeOnChange(t *testing.T) {
	ctx := context.Background()
	cl := env.Client(t)
	mine := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: env.Namespace(t), Name: "demo"},
		Spec: v1alpha1.ClusterSpec{Name: "demo", Version: "1.35"}}
	env.Create(t, mine)
	env.DeleteOnCleanup(t, mine) // the wake-up lists every cluster of the store
	z := testShifts(t)
	wake := make(chan event.GenericEvent)
	firsts := make(chan []v1alpha1.Cluster, 16)
	first := func(_ context.Context, l []v1alpha1.Cluster) { firsts <- l }
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- WakeOnChange(wctx, cl, z, discard, wake, first) }()

	// A change announced before the loop waits is not seen (nothing needs it
	// to be: every cluster gets a pass at start anyway), so announce until
	// one is.
	impaired := false
	deadline := time.After(10 * time.Second)
	var listed []v1alpha1.Cluster
	for listed == nil {
		impaired = !impaired
		z.SetImpaired(map[bool][]string{true: {"b"}}[impaired])
		select {
		case listed = <-firsts:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatal("no wake-up 10s after zone changes")
		}
	}
	if !slices.ContainsFunc(listed, func(c v1alpha1.Cluster) bool {
		return client.ObjectKeyFromObject(&c) == client.ObjectKeyFromObject(mine)
	}) {
		t.Errorf("first was handed %d clusters without %s", len(listed), client.ObjectKeyFromObject(mine))
	}
	select {
	case ev := <-wake:
		if client.ObjectKeyFromObject(ev.Object) != client.ObjectKeyFromObject(mine) {
			t.Errorf("woke %v, want %v", client.ObjectKeyFromObject(ev.Object), client.ObjectKeyFromObject(mine))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cluster was not woken")
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("WakeOnChange = %v after its context ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("WakeOnChange still running 10s after its context ended")
	}
}

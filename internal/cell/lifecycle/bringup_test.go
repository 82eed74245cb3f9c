package lifecycle

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/bringup"
)

// TestQueuedBringUpStartsNothing: with the cell's one bring-up slot taken, a
// second new cluster's pass records its place in the queue and starts no
// process; once the first cluster is ACTIVE its next pass frees the slot, and
// the second starts, its admission on record before its processes.
func TestQueuedBringUpStartsNothing(t *testing.T) {
	ctx := context.Background()
	first := create(t, testCluster(t))
	second := create(t, testCluster(t, func(c *v1alpha1.Cluster) {
		c.Namespace, c.Name, c.Spec.Name = first.Namespace, "second", "second"
	}))
	r, runner, _ := newReconciler(t)
	r.BringUps = bringup.NewGate(bringup.Config{Slots: 1, Lister: r.Client, Scope: []client.ListOption{client.InNamespace(first.Namespace)}})

	if _, err := r.Reconcile(ctx, request(first)); err != nil {
		t.Fatal(err)
	}
	ensured, _ := runner.calls()
	if len(ensured) == 0 {
		t.Fatal("the first bring-up started nothing")
	}
	if b := get(t, r.Client, first).Status.BringUp; b == nil || b.AdmittedAt == nil {
		t.Fatalf("first cluster's bringUp = %+v, want admitted on record", b)
	}

	res, err := r.Reconcile(ctx, request(second))
	if err != nil || res.RequeueAfter != pollQueued {
		t.Fatalf("Reconcile of the queued cluster = %+v, %v; want a requeue after %s", res, err, pollQueued)
	}
	if now, _ := runner.calls(); len(now) != len(ensured) {
		t.Fatalf("a queued bring-up started %d processes", len(now)-len(ensured))
	}
	st := get(t, r.Client, second).Status
	if st.Status != v1alpha1.StatusCreating || st.BringUp == nil || st.BringUp.QueuePosition != 1 || !strings.Contains(st.Reason, "queued to start") {
		t.Fatalf("queued cluster's status %s %q bringUp %+v", st.Status, st.Reason, st.BringUp)
	}

	// The first cluster became ACTIVE (its health checks are the end-to-end
	// tests' job): its next pass hands the slot on.
	stored := get(t, r.Client, first)
	now := metav1.Now()
	stored.Status.ActiveAt, stored.Status.Status = &now, v1alpha1.StatusActive
	if err := r.Client.Status().Update(ctx, stored); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, request(first)); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-r.BringUps.Wakes():
		if ev.Object.GetName() != "second" {
			t.Fatalf("woke %s, want second", ev.Object.GetName())
		}
	default:
		t.Fatal("the freed slot woke nobody")
	}
	before, _ := runner.calls()
	if _, err := r.Reconcile(ctx, request(second)); err != nil {
		t.Fatal(err)
	}
	if after, _ := runner.calls(); len(after) == len(before) {
		t.Fatal("the admitted bring-up started nothing")
	}
	if b := get(t, r.Client, second).Status.BringUp; b == nil || b.AdmittedAt == nil || b.QueuePosition != 0 {
		t.Fatalf("second cluster's bringUp = %+v, want admitted", b)
	}
}

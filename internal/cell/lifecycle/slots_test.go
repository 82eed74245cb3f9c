package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/ipam"
)

// withSlot stores a cluster that holds slot s.
func withSlot(t *testing.T, ns, name string, s int32) *v1alpha1.Cluster {
	return create(t, &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:   v1alpha1.ClusterSpec{Name: name, Version: "1.35"},
		Status: v1alpha1.ClusterStatus{Slot: slotPtr(s)}})
}

// uidCluster is a cluster the allocator knows only by its UID.
func uidCluster(uid string) *v1alpha1.Cluster {
	return &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Name: uid, UID: types.UID(uid)}}
}

func TestSlotAllocatorLowestFree(t *testing.T) {
	ctx := context.Background()
	ns := env.Namespace(t)
	withSlot(t, ns, "s0", 0)
	withSlot(t, ns, "s1", 1)
	withSlot(t, ns, "s3", 3)
	a := &slotAllocator{client: env.Client(t)}
	for _, tc := range []struct {
		uid  string
		want int32
	}{
		{"new-1", 2}, // the gap
		{"new-1", 2}, // asked again before the store shows it: the same slot
		{"new-2", 4}, // past the last used
		{"new-3", 5},
	} {
		got, err := a.allocate(ctx, uidCluster(tc.uid))
		if err != nil || got != tc.want {
			t.Fatalf("allocate(%s) = %d, %v; want %d", tc.uid, got, err, tc.want)
		}
	}
	a.release(uidCluster("new-1"))
	if got, err := a.allocate(ctx, uidCluster("new-4")); err != nil || got != 2 {
		t.Fatalf("after release, allocate = %d, %v; want the released slot 2", got, err)
	}
	a.release(uidCluster("never-held")) // harmless
}

func TestSlotAllocatorConcurrent(t *testing.T) {
	ctx := context.Background()
	withSlot(t, env.Namespace(t), "s0", 0)
	a := &slotAllocator{client: env.Client(t)}
	const n = 20
	slots := make([]int32, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots[i], errs[i] = a.allocate(ctx, uidCluster(fmt.Sprintf("c%02d", i)))
		}()
	}
	wg.Wait()
	seen := map[int32]int{}
	for i, s := range slots {
		if errs[i] != nil {
			t.Fatalf("allocate c%02d: %v", i, errs[i])
		}
		if s == 0 {
			t.Errorf("c%02d got slot 0, which the store records for s0", i)
		}
		if prev, dup := seen[s]; dup {
			t.Errorf("c%02d and c%02d both got slot %d", prev, i, s)
		}
		seen[s] = i
	}
	for s := int32(1); s <= n; s++ {
		if _, ok := seen[s]; !ok {
			t.Errorf("slot %d left unused: allocations are not dense", s)
		}
	}
}

func TestSlotAllocatorFull(t *testing.T) {
	a := &slotAllocator{client: env.Client(t), held: map[types.UID]int32{}}
	for s := int32(0); s < ipam.MaxSlots; s++ {
		a.held[types.UID(fmt.Sprint("held-", s))] = s
	}
	_, err := a.allocate(context.Background(), uidCluster("one-too-many"))
	if !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("allocate on a full cell = %v, want ErrLimitExceeded", err)
	}
}

func TestEnsureSlotRecordsInStore(t *testing.T) {
	ctx := context.Background()
	c := create(t, testCluster(t))
	withSlot(t, c.Namespace, "other", 0)
	r, _, _ := newReconciler(t)
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(c), c); err != nil {
		t.Fatal(err)
	}
	if err := r.ensureSlot(ctx, c); err != nil {
		t.Fatal(err)
	}
	stored := &v1alpha1.Cluster{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(c), stored); err != nil {
		t.Fatal(err)
	}
	if stored.Status.Slot == nil || *stored.Status.Slot != 1 {
		t.Fatalf("stored slot = %v, want 1", stored.Status.Slot)
	}
	// A cluster with a slot keeps it, even when the allocator has forgotten it
	// (a restarted cellplane).
	r.slots.release(c)
	if err := r.ensureSlot(ctx, stored); err != nil || *stored.Status.Slot != 1 {
		t.Fatalf("ensureSlot on a placed cluster = %v, slot %d", err, *stored.Status.Slot)
	}
}

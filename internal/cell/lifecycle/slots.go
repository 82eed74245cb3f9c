package lifecycle

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/ipam"
)

// slotAllocator hands out address-plan slots. The store is the record (a slot lives
// in the Cluster's status); the in-memory map covers the moment between choosing a
// slot and the cache seeing it, when two concurrent reconciles could pick the same.
type slotAllocator struct {
	client client.Client
	mu     sync.Mutex
	held   map[types.UID]int32
}

// ensureSlot gives c a slot and records it in the store before anything is started
// on the slot's addresses.
func (r *Reconciler) ensureSlot(ctx context.Context, c *v1alpha1.Cluster) error {
	if c.Status.Slot != nil {
		return nil
	}
	slot, err := r.slots.allocate(ctx, c)
	if err != nil {
		return err
	}
	orig := c.DeepCopy()
	c.Status.Slot = &slot
	if err := r.Client.Status().Patch(ctx, c, client.MergeFrom(orig)); err != nil {
		return fmt.Errorf("recording slot: %w", err)
	}
	return nil
}

func (a *slotAllocator) allocate(ctx context.Context, c *v1alpha1.Cluster) (int32, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if s, ok := a.held[c.UID]; ok {
		return s, nil
	}
	used, err := a.used(ctx)
	if err != nil {
		return 0, err
	}
	for s := int32(0); s < ipam.MaxSlots; s++ {
		if !used[s] {
			if a.held == nil {
				a.held = map[types.UID]int32{}
			}
			a.held[c.UID] = s
			return s, nil
		}
	}
	return 0, fmt.Errorf("allocating an address slot: all %d are taken: %w", ipam.MaxSlots, errdefs.ErrLimitExceeded)
}

func (a *slotAllocator) used(ctx context.Context) (map[int32]bool, error) {
	var list v1alpha1.ClusterList
	if err := a.client.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing clusters: %w", err)
	}
	used := map[int32]bool{}
	for _, c := range list.Items {
		if c.Status.Slot != nil {
			used[*c.Status.Slot] = true
		}
	}
	for _, s := range a.held {
		used[s] = true
	}
	return used, nil
}

func (a *slotAllocator) release(c *v1alpha1.Cluster) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.held, c.UID)
}

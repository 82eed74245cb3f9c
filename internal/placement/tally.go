package placement

import (
	"context"
	"fmt"
	"sync"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Tally counts the clusters placed in each cell, kept current by the region
// cache's events: a placement reads a count instead of listing a thousand
// clusters per cell.
type Tally struct {
	reg    toolscache.ResourceEventHandlerRegistration
	mu     sync.RWMutex
	cellOf map[client.ObjectKey]string
	count  map[string]int
}

// NewTally returns an empty tally; Watch or Set fill it.
func NewTally() *Tally {
	return &Tally{cellOf: map[client.ObjectKey]string{}, count: map[string]int{}}
}

// Watch keeps the tally current from the cache's Cluster informer.
func (t *Tally) Watch(ctx context.Context, c cache.Cache) error {
	inf, err := c.GetInformer(ctx, &v1alpha1.Cluster{})
	if err != nil {
		return fmt.Errorf("watching clusters: %w", err)
	}
	t.reg, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { t.Set(o) },
		UpdateFunc: func(_, o any) { t.Set(o) },
		DeleteFunc: func(o any) {
			if tomb, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = tomb.Obj
			}
			if c, ok := o.(*v1alpha1.Cluster); ok {
				t.Remove(client.ObjectKeyFromObject(c))
			}
		},
	})
	if err != nil {
		return fmt.Errorf("watching clusters: %w", err)
	}
	return nil
}

// Set records a cluster (any other object is ignored).
func (t *Tally) Set(o any) {
	c, ok := o.(*v1alpha1.Cluster)
	if !ok {
		return
	}
	key := client.ObjectKeyFromObject(c)
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.cellOf[key]; ok {
		if old == c.Spec.Cell {
			return
		}
		t.count[old]--
	}
	t.cellOf[key] = c.Spec.Cell
	t.count[c.Spec.Cell]++
}

// Remove forgets a cluster.
func (t *Tally) Remove(key client.ObjectKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if old, ok := t.cellOf[key]; ok {
		delete(t.cellOf, key)
		t.count[old]--
	}
}

// Placed is how many known clusters are placed in cell.
func (t *Tally) Placed(cell string) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.count[cell]
}

// Has reports whether the tally knows the cluster.
func (t *Tally) Has(key client.ObjectKey) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	_, ok := t.cellOf[key]
	return ok
}

// HasSynced reports whether the tally has seen every cluster the informer
// listed at start; before that it undercounts.
func (t *Tally) HasSynced() bool { return t.reg != nil && t.reg.HasSynced() }

package clusternames

import (
	"context"
	"fmt"
	"slices"
	"sync"

	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Index keeps every account's cluster names sorted, current from the
// region cache's events, so a ListClusters page costs a binary search instead of
// copying and sorting the account's clusters on every call.
type Index struct {
	reg  toolscache.ResourceEventHandlerRegistration
	mu   sync.RWMutex
	byNS map[string]*accountNames
}

type accountNames struct {
	names  map[string]string // object name → cluster name
	sorted []string          // never changed in place: rebuilt after a change
	stale  bool
}

// New returns an empty index; Watch fills it.
func New() *Index {
	return &Index{byNS: map[string]*accountNames{}}
}

// Watch keeps the index current from the cache's Cluster informer.
func (n *Index) Watch(ctx context.Context, c cache.Cache) error {
	inf, err := c.GetInformer(ctx, &v1alpha1.Cluster{})
	if err != nil {
		return fmt.Errorf("watching clusters: %w", err)
	}
	n.reg, err = inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { n.set(o) },
		UpdateFunc: func(_, o any) { n.set(o) },
		DeleteFunc: func(o any) {
			if tomb, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
				o = tomb.Obj
			}
			if c, ok := o.(*v1alpha1.Cluster); ok {
				n.remove(client.ObjectKeyFromObject(c))
			}
		},
	})
	if err != nil {
		return fmt.Errorf("watching clusters: %w", err)
	}
	return nil
}

func (n *Index) set(o any) {
	c, ok := o.(*v1alpha1.Cluster)
	if !ok || c.Spec.Name == "" {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	a := n.byNS[c.Namespace]
	if a == nil {
		a = &accountNames{names: map[string]string{}}
		n.byNS[c.Namespace] = a
	}
	if a.names[c.Name] != c.Spec.Name {
		a.names[c.Name] = c.Spec.Name
		a.stale = true
	}
}

func (n *Index) remove(key client.ObjectKey) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if a := n.byNS[key.Namespace]; a != nil {
		if _, ok := a.names[key.Name]; ok {
			delete(a.names, key.Name)
			a.stale = true
		}
	}
}

// Has reports whether the index shows the object.
func (n *Index) Has(key client.ObjectKey) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	a := n.byNS[key.Namespace]
	return a != nil && a.names[key.Name] != ""
}

// Count is how many clusters the index shows in the namespace.
func (n *Index) Count(namespace string) int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if a := n.byNS[namespace]; a != nil {
		return len(a.names)
	}
	return 0
}

// Sorted returns the namespace's cluster names in byte order. The slice is
// shared: callers must not change it.
func (n *Index) Sorted(namespace string) []string {
	n.mu.RLock()
	a := n.byNS[namespace]
	if a == nil || !a.stale {
		defer n.mu.RUnlock()
		if a == nil {
			return nil
		}
		return a.sorted
	}
	n.mu.RUnlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	if a.stale {
		sorted := make([]string, 0, len(a.names))
		for _, name := range a.names {
			sorted = append(sorted, name)
		}
		slices.Sort(sorted)
		a.sorted, a.stale = sorted, false
	}
	return a.sorted
}

// HasSynced reports whether the index has seen every cluster the informer
// listed at start.
func (n *Index) HasSynced() bool { return n.reg != nil && n.reg.HasSynced() }

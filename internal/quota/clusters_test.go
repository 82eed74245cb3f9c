package quota

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestParseMaxClusters(t *testing.T) {
	for v, want := range map[string]int{"0": 0, "100": 100, "100000": 100000} {
		if n, err := ParseMaxClusters(v); err != nil || n != want {
			t.Errorf("ParseMaxClusters(%q) = %d, %v", v, n, err)
		}
	}
	for _, v := range []string{"", "-1", "100001", "ten", "1.5"} {
		if _, err := ParseMaxClusters(v); err == nil {
			t.Errorf("ParseMaxClusters(%q) accepted it", v)
		}
	}
}

// index is the name index as the quota reads it: pure logic under test, so
// a map stands in for the informer-fed index.
type index struct {
	mu    sync.Mutex
	names map[client.ObjectKey]bool
}

func (x *index) Has(k client.ObjectKey) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.names[k]
}

func (x *index) Count(ns string) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for k := range x.names {
		if k.Namespace == ns {
			n++
		}
	}
	return n
}

func (x *index) add(k client.ObjectKey) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.names[k] = true
}

func cluster(name string) *v1alpha1.Cluster {
	return &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: "acct-1", Name: name, Labels: map[string]string{v1alpha1.LabelAccount: "1"}}}
}

// TestReserveCountsEachClusterOnce: a create is counted from its reservation
// until the index shows it, and then by the index alone; a failed create
// frees its slot.
func TestReserveCountsEachClusterOnce(t *testing.T) {
	x := &index{names: map[client.ObjectKey]bool{}}
	q := NewClusters(x, nil, 2, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()

	doneA, err := q.Reserve(ctx, nil, cluster("a"))
	if err != nil {
		t.Fatal(err)
	}
	failed, err := q.Reserve(ctx, nil, cluster("b"))
	if err != nil {
		t.Fatal(err)
	}
	var ex *Exceeded
	if _, err := q.Reserve(ctx, nil, cluster("c")); !errors.As(err, &ex) || !errors.Is(err, errdefs.ErrLimitExceeded) || ex.Used != 2 || ex.Limit != 2 {
		t.Fatalf("a third reservation with two pending = %v", err)
	}
	failed(false) // b stored nothing: its slot is free again
	doneA(true)   // a is stored, not yet in the index: still counted
	x.add(client.ObjectKey{Namespace: "acct-1", Name: "a"})
	doneB, err := q.Reserve(ctx, nil, cluster("b"))
	if err != nil {
		t.Fatalf("b after a's stored create was counted once: %v", err)
	}
	doneB(true)
	if _, err := q.Reserve(ctx, nil, cluster("c")); !errors.As(err, &ex) || ex.Used != 2 {
		t.Fatalf("c with a indexed and b pending = %v", err)
	}
	// The operator's override on the namespace wins.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "acct-1", Annotations: map[string]string{v1alpha1.AnnotationMaxClusters: "3"}}}
	if _, err := q.Reserve(ctx, ns, cluster("c")); err != nil {
		t.Fatalf("c under an override of 3: %v", err)
	}
}

func TestReserveIsExclusive(t *testing.T) {
	x := &index{names: map[client.ObjectKey]bool{}}
	q := NewClusters(x, nil, 5, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if done, err := q.Reserve(context.Background(), nil, cluster(fmt.Sprintf("c-%d", i))); err == nil {
				done(true)
				mu.Lock()
				granted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if granted != 5 {
		t.Fatalf("%d of 50 concurrent reservations granted under a limit of 5", granted)
	}
}

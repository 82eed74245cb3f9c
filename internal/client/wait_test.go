package client

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func isActive(c *eks.Cluster) bool { return c.Status == eks.StatusActive }

// The test moves the cluster along from the progress callback, so every step
// happens between two polls without sleeping.
func TestWaitForActive(t *testing.T) {
	r := newRegion(t)
	if _, err := r.client.CreateCluster(t.Context(), CreateClusterInput{Name: "w"}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	progress := func(c *eks.Cluster) {
		seen = append(seen, c.Status+"/"+c.Cellplane.Reason)
		switch len(seen) {
		case 1:
			r.pushStatus("w", v1alpha1.ClusterStatus{Status: v1alpha1.StatusCreating, Reason: "etcd starting"})
		case 2:
			r.pushStatus("w", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive, Endpoint: "https://127.0.1.1:6443"})
		}
	}
	got, err := WaitFor(t.Context(), r.client, "w", isActive, progress)
	if err != nil || got.Endpoint != "https://127.0.1.1:6443" {
		t.Fatalf("WaitFor: %+v, %v", got, err)
	}
	if want := []string{"CREATING/", "CREATING/etcd starting", "ACTIVE/"}; strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("progress saw %v, want %v", seen, want)
	}
}

func TestWaitForFailed(t *testing.T) {
	r := newRegion(t)
	if _, err := r.client.CreateCluster(t.Context(), CreateClusterInput{Name: "f"}); err != nil {
		t.Fatal(err)
	}
	progress := func(*eks.Cluster) {
		r.pushStatus("f", v1alpha1.ClusterStatus{Status: v1alpha1.StatusFailed, Reason: "etcd-b did not become healthy"})
	}
	got, err := WaitFor(t.Context(), r.client, "f", isActive, progress)
	if !errors.Is(err, ErrClusterFailed) || !strings.Contains(err.Error(), "etcd-b did not become healthy") || got == nil {
		t.Fatalf("WaitFor: %+v, %v", got, err)
	}
}

func TestWaitForDeletion(t *testing.T) {
	r := newRegion(t)
	ctx := t.Context()
	if _, err := r.client.CreateCluster(ctx, CreateClusterInput{Name: "d"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.client.DeleteCluster(ctx, "d"); err != nil {
		t.Fatal(err)
	}
	never := func(*eks.Cluster) bool { return false }
	_, err := WaitFor(ctx, r.client, "d", never, func(*eks.Cluster) { r.release("d") })
	if !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("WaitFor a deletion: %v", err)
	}
}

func TestWaitForDeadline(t *testing.T) {
	r := newRegion(t)
	if _, err := r.client.CreateCluster(t.Context(), CreateClusterInput{Name: "slow"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*PollInterval)
	defer cancel()
	calls := 0
	_, err := WaitFor(ctx, r.client, "slow", isActive, func(*eks.Cluster) { calls++ })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor past its deadline: %v", err)
	}
	if calls != 1 {
		t.Fatalf("progress called %d times for an unchanged cluster, want 1", calls)
	}
}

// A region that answers 503 for a while (restarting) does not end the wait.
func TestWaitForRetriesUnavailable(t *testing.T) {
	r := newRegion(t)
	if _, err := r.client.CreateCluster(t.Context(), CreateClusterInput{Name: "u"}); err != nil {
		t.Fatal(err)
	}
	r.pushStatus("u", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive})
	r.failNext.Store(2)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := WaitFor(ctx, r.client, "u", isActive, nil); err != nil {
		t.Fatalf("WaitFor through 503s: %v", err)
	}
	if r.failNext.Load() >= 0 {
		t.Fatal("the 503s were never served")
	}
}

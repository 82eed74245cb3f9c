package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/zones"
)

// HeartbeatInterval is how often a cell reports to the region. The region counts
// a cell unreachable once its heartbeat is several intervals old (see placement).
const HeartbeatInterval = 3 * time.Second

// Heartbeat reports the cell to the region: that it is alive, how many clusters
// its store holds and where its store and load balancer are. It is a manager
// Runnable.
type Heartbeat struct {
	Region       client.Client // the region's store
	Cell         client.Reader // the cell's store
	CellName     string
	Store        string
	LoadBalancer string
	Logger       *slog.Logger
	Interval     time.Duration // HeartbeatInterval when zero
	// Zones, when set, takes the cell's zone shifts from the region's answer
	// to every beat.
	Zones *zones.Shifts
	// ZoneNet, when set, reports the cell's zone health and faults and takes
	// the region's zone faults from the answer to every beat.
	ZoneNet ZoneReporter
	// APIHealth, when set, reports what the cell measured of its clusters'
	// APIs.
	APIHealth interface {
		Snapshot() []v1alpha1.ClusterAPIHealth
	}
	Now func() time.Time

	failing bool
}

// Start beats until ctx ends, and at once when the zones out of rotation
// change, so an impaired zone shows in the region within moments. A failed
// beat is logged (once per outage) and retried on the next tick: the cell
// carries on without the region.
func (h *Heartbeat) Start(ctx context.Context) error {
	interval := h.Interval
	if interval <= 0 {
		interval = HeartbeatInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		var zonesChanged <-chan struct{} // nil without zones: never ready
		if h.Zones != nil {
			zonesChanged = h.Zones.Changed()
		}
		err := h.Beat(ctx)
		if ctx.Err() != nil {
			return nil // shutting down: a beat cut short is no outage
		}
		switch {
		case err != nil && !h.failing:
			h.Logger.Warn("cannot report to the region; the cell carries on", "err", err)
		case err == nil && h.failing:
			h.Logger.Info("reporting to the region again")
		}
		h.failing = err != nil
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-zonesChanged:
		}
	}
}

// Beat reports once.
func (h *Heartbeat) Beat(ctx context.Context) error {
	var clusters v1alpha1.ClusterList
	if err := h.Cell.List(ctx, &clusters, client.UnsafeDisableDeepCopy); err != nil {
		return fmt.Errorf("counting the cell's clusters: %w", err)
	}
	now := time.Now()
	if h.Now != nil {
		now = h.Now()
	}
	t := metav1.NewTime(now)
	// A merge patch of the status. Clusters is sent even when zero (no
	// omitempty); the other fields are never empty here.
	body, err := json.Marshal(map[string]any{"status": h.status(&t, len(clusters.Items))})
	if err != nil {
		return err
	}
	c := &v1alpha1.Cell{ObjectMeta: metav1.ObjectMeta{Name: h.CellName}}
	err = h.Region.Status().Patch(ctx, c, client.RawPatch(types.MergePatchType, body))
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("the region has no cell %s (it is created by cellplane up): %w", h.CellName, err)
	}
	if err != nil {
		return fmt.Errorf("reporting heartbeat: %w", err)
	}
	// The patch's answer is the whole Cell, spec included.
	if h.Zones != nil {
		if err := h.Zones.Set(c.Spec.ZoneShifts); err != nil {
			return err
		}
	}
	if h.ZoneNet == nil {
		return nil
	}
	changed, err := h.ZoneNet.SetFaults(c.Spec.ZoneFaults)
	if changed && err == nil {
		// Report the new faults now rather than a beat later: the operator's
		// 'zone fault' waits for them.
		return h.Beat(ctx)
	}
	return err
}

// ZoneReporter is what the heartbeat needs of the cell's zone network.
type ZoneReporter interface {
	Namespaces() bool
	Health() []v1alpha1.ZoneHealth
	Faults() []v1alpha1.ZoneFault
	SetFaults([]v1alpha1.ZoneFault) (changed bool, err error)
}

// status is the merge patch of the cell's status. Zone health and faults are
// sent as null when there are none, which removes what an earlier beat
// reported; clusters is sent even when zero.
func (h *Heartbeat) status(t *metav1.Time, clusters int) map[string]any {
	st := map[string]any{"heartbeatTime": t, "clusters": clusters, "store": h.Store,
		"loadBalancer": h.LoadBalancer, "pid": os.Getpid(), "zoneNamespaces": nil, "zones": nil, "faults": nil, "apiHealth": nil}
	if h.APIHealth != nil {
		if a := h.APIHealth.Snapshot(); len(a) > 0 {
			st["apiHealth"] = a
		}
	}
	if h.ZoneNet == nil {
		return st
	}
	if h.ZoneNet.Namespaces() {
		st["zoneNamespaces"] = true
	}
	if z := h.ZoneNet.Health(); len(z) > 0 {
		st["zones"] = z
	}
	if f := h.ZoneNet.Faults(); len(f) > 0 {
		st["faults"] = f
	}
	return st
}

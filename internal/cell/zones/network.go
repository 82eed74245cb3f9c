package zones

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/zonehealth"
	"github.com/cellplane/cellplane/internal/zonenet"
)

// Network is the cell's side of its zones' network: the faults injected
// into zone namespaces (Cell.spec.zoneFaults, when the zones have
// namespaces) and the health the zone monitor sees. Faults are saved, so a
// restarted cell puts them back before the region answers; a latency or loss
// fault lives in this process and is gone while it is down.
type Network struct {
	net     *zonenet.Net // nil: zones on loopback
	monitor *zonehealth.Monitor
	path    string
	log     *slog.Logger

	mu      sync.Mutex
	applied []v1alpha1.ZoneFault
}

// NewNetwork applies the faults saved at path (clearing what a previous
// process left in zones without one); net is nil when the zones run on
// loopback. The monitor may be nil (no zone health).
func NewNetwork(net *zonenet.Net, monitor *zonehealth.Monitor, path string, log *slog.Logger) (*Network, error) {
	z := &Network{net: net, monitor: monitor, path: path, log: log}
	if net == nil {
		return z, nil
	}
	var saved []v1alpha1.ZoneFault
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, &saved)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("reading zone faults: %w", err)
	}
	for _, zone := range ipam.Zones {
		if err := z.apply(zone, faultOf(saved, zone)); err != nil {
			return nil, err
		}
	}
	z.applied = saved
	return z, nil
}

// Namespaces reports whether the zones have network namespaces.
func (z *Network) Namespaces() bool { return z.net != nil }

// Faults returns the faults in force.
func (z *Network) Faults() []v1alpha1.ZoneFault {
	z.mu.Lock()
	defer z.mu.Unlock()
	return slices.Clone(z.applied)
}

// SetFaults applies the region's zone faults: each zone whose fault changed
// gets its new one (or none), stamped with when. It reports whether anything
// changed. A cell on loopback has nothing to inject into; the region refuses
// faults for it, so any here are ignored.
func (z *Network) SetFaults(faults []v1alpha1.ZoneFault) (bool, error) {
	if z.net == nil {
		return false, nil
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	var next []v1alpha1.ZoneFault
	changed := false
	for _, zone := range ipam.Zones {
		want, had := faultOf(faults, zone), faultOf(z.applied, zone)
		if sameFault(want, had) {
			if had.Kind != "" {
				next = append(next, had)
			}
			continue
		}
		if err := z.apply(zone, want); err != nil {
			return changed, err
		}
		changed = true
		if want.Kind != "" {
			want.AppliedAt = &metav1.Time{Time: time.Now()}
			next = append(next, want)
		}
	}
	if !changed {
		return false, nil
	}
	z.applied = next
	data, err := json.Marshal(z.applied)
	if err == nil {
		err = etcdstate.WriteFileSync(filepath.Dir(z.path), filepath.Base(z.path), data)
	}
	if err != nil {
		return true, fmt.Errorf("saving zone faults: %w", err)
	}
	return true, nil
}

// sameFault compares what a fault does, not when it was applied.
func sameFault(a, b v1alpha1.ZoneFault) bool {
	return a.Kind == b.Kind && a.LatencyMilliseconds == b.LatencyMilliseconds && a.LossPercent == b.LossPercent
}

func (z *Network) apply(zone string, f v1alpha1.ZoneFault) error {
	nf := NetFault(f)
	if err := z.net.SetFault(zone, nf); err != nil {
		return fmt.Errorf("zone %s: %w", zone, err)
	}
	z.log.Warn("zone fault applied", "zone", zone, "fault", nf.String())
	return nil
}

// NetFault is the zone network's form of a Cell's zone fault; its Validate
// is the one check of a fault, for the region before it records one too.
func NetFault(f v1alpha1.ZoneFault) zonenet.Fault {
	return zonenet.Fault{Kind: zonenet.Kind(f.Kind), Latency: time.Duration(f.LatencyMilliseconds) * time.Millisecond, LossPercent: int(f.LossPercent)}
}

// faultOf is zone's fault in faults, or the zero fault (none).
func faultOf(faults []v1alpha1.ZoneFault, zone string) v1alpha1.ZoneFault {
	for _, f := range faults {
		if f.Zone == zone {
			return f
		}
	}
	return v1alpha1.ZoneFault{}
}

// Health is what the zone monitor last saw, by zone.
func (z *Network) Health() []v1alpha1.ZoneHealth {
	if z.monitor == nil {
		return nil
	}
	var out []v1alpha1.ZoneHealth
	for _, s := range z.monitor.States() {
		h := v1alpha1.ZoneHealth{Zone: s.Zone, Impaired: s.Impaired, Reason: s.Reason, LatencyMilliseconds: s.LastP50.Milliseconds()}
		if !s.Since.IsZero() {
			h.Since = &metav1.Time{Time: s.Since}
		}
		out = append(out, h)
	}
	return out
}

// RunMonitor probes the zones until ctx ends and hands every change of the
// impaired zones to shifts, which evacuates them like an operator's shift.
func (z *Network) RunMonitor(ctx context.Context, shifts *Shifts) {
	if z.monitor == nil {
		return
	}
	go z.monitor.Run(ctx)
	var was []string
	for {
		changed := z.monitor.Changed()
		now := z.monitor.Impaired()
		shifts.SetImpaired(now)
		for _, zone := range now {
			if !slices.Contains(was, zone) {
				go z.resetConnections(ctx, zone)
			}
		}
		was = now
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
	}
}

// resetRounds are when connections into a newly impaired zone are reset:
// at once, then after the evacuation stopped the zone's etcd member (a
// client may have reconnected into a slow zone meanwhile).
var resetRounds = []time.Duration{0, 3 * time.Second, 3 * time.Second}

// resetConnections resets every connection into an impaired zone from the
// rest of the cell, so the API servers' etcd clients and everything else
// stop waiting on peers that went silent (see zonenet.ResetConnectionsTo).
func (z *Network) resetConnections(ctx context.Context, zone string) {
	if z.net == nil {
		return
	}
	for _, wait := range resetRounds {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		n, err := z.net.ResetConnectionsTo(zone)
		if err != nil {
			z.log.Warn("resetting connections into an impaired zone", "zone", zone, "reset", n, "err", err)
			continue
		}
		z.log.Info("reset connections into an impaired zone", "zone", zone, "connections", n)
	}
}

// Targets lists what the zone monitor probes: the etcd members and API
// servers of every ACTIVE cluster of the cell.
func Targets(ctx context.Context, c client.Reader, cell ipam.Cell) []zonehealth.Target {
	var list v1alpha1.ClusterList
	if err := c.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
		return nil
	}
	var out []zonehealth.Target
	for i := range list.Items {
		cl := &list.Items[i]
		if cl.Status.Slot == nil || cl.Status.Status != v1alpha1.StatusActive {
			continue
		}
		for _, m := range controlplane.ServingMembers(cell, int(*cl.Status.Slot)) {
			out = append(out, zonehealth.Target{Zone: m.Zone, Name: cl.Name + "/" + m.Name(), Addr: m.Address()})
		}
	}
	return out
}

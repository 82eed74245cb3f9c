package zones

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// Shifts is the cell's view of the zones out of rotation: those an
// operator shifted out (Cell.spec.zoneShifts) and those the cell's own health
// probes found impaired. The heartbeat learns the operator's shifts from the
// region on every beat; they are kept in a file too, so a cell restarted while
// the region is away keeps a shift in force. Impaired zones are the zone
// monitor's live verdict and are not saved: a restarted cell probes afresh.
// Both evacuate a zone the same way. A nil *Shifts shifts nothing.
type Shifts struct {
	path string
	log  *slog.Logger

	mu       sync.Mutex
	zones    []string      // shifted by an operator
	impaired []string      // found impaired by the cell's probes
	changed  chan struct{} // closed and replaced on every change
}

// Load reads the shifts last saved at path; none means none.
func Load(path string, log *slog.Logger) (*Shifts, error) {
	z := &Shifts{path: path, log: log, changed: make(chan struct{})}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return z, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &z.zones)
	}
	if err != nil {
		return nil, fmt.Errorf("reading zone shifts: %w", err)
	}
	return z, nil
}

// Set records the region's shifts, saving and announcing a change.
func (z *Shifts) Set(zones []string) error {
	zones = slices.Clone(zones)
	slices.Sort(zones)
	z.mu.Lock()
	defer z.mu.Unlock()
	if slices.Equal(zones, z.zones) {
		return nil
	}
	data, err := json.Marshal(zones)
	if err == nil {
		err = etcdstate.WriteFileSync(filepath.Dir(z.path), filepath.Base(z.path), data)
	}
	if err != nil {
		return fmt.Errorf("saving zone shifts: %w", err)
	}
	z.log.Warn("zone shifts changed", "from", z.zones, "to", zones)
	z.zones = zones
	z.announce()
	return nil
}

// SetImpaired records the zones the cell's health probes find impaired.
func (z *Shifts) SetImpaired(zones []string) {
	zones = slices.Clone(zones)
	slices.Sort(zones)
	z.mu.Lock()
	defer z.mu.Unlock()
	if slices.Equal(zones, z.impaired) {
		return
	}
	z.log.Warn("impaired zones changed", "from", z.impaired, "to", zones)
	z.impaired = zones
	z.announce()
}

// announce wakes everyone waiting on Changed; z.mu is held.
func (z *Shifts) announce() {
	close(z.changed)
	z.changed = make(chan struct{})
}

// Shifted reports whether zone is out of rotation, by an operator's shift or
// because it is impaired.
func (z *Shifts) Shifted(zone string) bool {
	if z == nil {
		return false
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	return slices.Contains(z.zones, zone) || slices.Contains(z.impaired, zone)
}

// Zones returns the zones out of rotation, shifted or impaired.
func (z *Shifts) Zones() []string {
	if z == nil {
		return nil
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	zones := slices.Concat(z.zones, z.impaired)
	slices.Sort(zones)
	return slices.Compact(zones)
}

// Impaired returns the zones the cell's probes find impaired.
func (z *Shifts) Impaired() []string {
	if z == nil {
		return nil
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	return slices.Clone(z.impaired)
}

// Changed is closed at the next change.
func (z *Shifts) Changed() <-chan struct{} {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.changed
}

// StoppedByShift reports whether member m stays stopped while its zone is
// out of rotation, as its component's ZoneOut says: controllers, so that
// their leadership moves to another zone, and, in an impaired zone, etcd
// too. API servers keep running, drained by the endpoint.
func (z *Shifts) StoppedByShift(m controlplane.Member) bool {
	switch m.Component.ZoneOut() {
	case controlplane.ZoneOutStop:
		return z.Shifted(m.Zone)
	case controlplane.ZoneOutStopWhenImpaired:
		return slices.Contains(z.Impaired(), m.Zone)
	}
	return false
}

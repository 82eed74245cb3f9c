package cell

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

	"github.com/cellplane/cellplane/internal/controlplane"
)

// ZoneShifts is the cell's view of the zones an operator shifted out of it
// (Cell.spec.zoneShifts). The heartbeat learns it from the region on every
// beat; it is kept in a file too, so a cell restarted while the region is away
// keeps a shift in force. A nil *ZoneShifts shifts nothing.
type ZoneShifts struct {
	path string
	log  *slog.Logger

	mu      sync.Mutex
	zones   []string
	changed chan struct{} // closed and replaced on every change
}

// LoadZoneShifts reads the shifts last saved at path; none means none.
func LoadZoneShifts(path string, log *slog.Logger) (*ZoneShifts, error) {
	z := &ZoneShifts{path: path, log: log, changed: make(chan struct{})}
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
func (z *ZoneShifts) Set(zones []string) error {
	zones = slices.Clone(zones)
	slices.Sort(zones)
	z.mu.Lock()
	defer z.mu.Unlock()
	if slices.Equal(zones, z.zones) {
		return nil
	}
	data, err := json.Marshal(zones)
	if err == nil {
		err = writeFileSync(filepath.Dir(z.path), filepath.Base(z.path), data)
	}
	if err != nil {
		return fmt.Errorf("saving zone shifts: %w", err)
	}
	z.log.Warn("zone shifts changed", "from", z.zones, "to", zones)
	z.zones = zones
	close(z.changed)
	z.changed = make(chan struct{})
	return nil
}

// Shifted reports whether zone is shifted out.
func (z *ZoneShifts) Shifted(zone string) bool {
	if z == nil {
		return false
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	return slices.Contains(z.zones, zone)
}

// Zones returns the shifted zones.
func (z *ZoneShifts) Zones() []string {
	if z == nil {
		return nil
	}
	z.mu.Lock()
	defer z.mu.Unlock()
	return slices.Clone(z.zones)
}

// Changed is closed at the next change.
func (z *ZoneShifts) Changed() <-chan struct{} {
	z.mu.Lock()
	defer z.mu.Unlock()
	return z.changed
}

// stoppedByShift reports whether member m stays stopped while its zone is
// shifted out: controllers, so that their leadership moves to another zone.
// API servers keep running, drained; etcd members keep running for quorum.
func (z *ZoneShifts) stoppedByShift(m controlplane.Member) bool {
	return (m.Kind == controlplane.KindControllerManager || m.Kind == controlplane.KindScheduler) && z.Shifted(m.Zone)
}

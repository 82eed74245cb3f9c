// Package placement chooses the cell each new cluster runs in and judges what
// state a cell is in. The region decides from what is in its own store (the
// clusters it placed, each cell's spec and heartbeat); it never calls a cell, so
// a cell that hangs cannot stall a create.
package placement

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// DefaultStaleAfter is how old a cell's heartbeat may be before the region counts
// the cell unreachable: five of the cell's 3-second beats.
const DefaultStaleAfter = 15 * time.Second

// State is what a cell can do for placement right now.
type State string

// Cell states, most severe first: a cell is reported in the first that applies.
const (
	Unreachable State = "Unreachable"
	Draining    State = "Draining"
	Full        State = "Full"
	Available   State = "Available"
)

// View is one cell as the region sees it.
type View struct {
	Name     string
	State    State
	Capacity int
	Placed   int           // clusters the region placed there, deleting ones included
	Age      time.Duration // since the last heartbeat; negative when there never was one
	Cell     *v1alpha1.Cell
}

// Free is how many more clusters the cell takes.
func (v View) Free() int { return max(v.Capacity-v.Placed, 0) }

// Describe says why a cell cannot take a cluster, for error messages.
func (v View) Describe() string {
	switch v.State {
	case Unreachable:
		if v.Age < 0 {
			return fmt.Sprintf("%s has never reported", v.Name)
		}
		return fmt.Sprintf("%s is unreachable (last heartbeat %s ago)", v.Name, v.Age.Round(time.Second))
	case Draining:
		return v.Name + " is draining"
	case Full:
		return fmt.Sprintf("%s is full (%d of %d)", v.Name, v.Placed, v.Capacity)
	}
	return fmt.Sprintf("%s has room for %d", v.Name, v.Free())
}

// Judge derives a cell's state.
func Judge(c *v1alpha1.Cell, placed int, now time.Time, staleAfter time.Duration) View {
	v := View{Name: c.Name, Capacity: int(c.Spec.Capacity), Placed: placed, Age: -1, Cell: c}
	if hb := c.Status.HeartbeatTime; hb != nil {
		v.Age = max(now.Sub(hb.Time), 0)
	}
	switch {
	case v.Age < 0 || v.Age > staleAfter:
		v.State = Unreachable
	case c.Spec.Draining:
		v.State = Draining
	case placed >= v.Capacity:
		v.State = Full
	default:
		v.State = Available
	}
	return v
}

// Placer picks, for each new cluster, the available cell with the most free
// capacity (ties go to the first by name). A cluster it placed that the tally
// does not show yet counts as pending, once: concurrent creates never overfill
// a cell, and a stored cluster is never counted twice.
type Placer struct {
	Cells      client.Reader // lists Cells; the region's cache
	Tally      *Tally
	StaleAfter time.Duration // DefaultStaleAfter when zero
	Now        func() time.Time

	mu      sync.Mutex
	pending map[client.ObjectKey]string // cluster → cell, until its done is called
}

// Place chooses a cell for c. Done must be called once the cluster is stored and
// visible to the tally, or its create failed.
func (p *Placer) Place(ctx context.Context, c *v1alpha1.Cluster) (cell string, done func(), err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	views, err := p.views(ctx)
	if err != nil {
		return "", nil, err
	}
	best := -1
	for i, v := range views {
		if v.State == Available && (best < 0 || v.Free() > views[best].Free()) {
			best = i
		}
	}
	if best < 0 {
		return "", nil, noRoom(views)
	}
	name := views[best].Name
	key := client.ObjectKeyFromObject(c)
	if p.pending == nil {
		p.pending = map[client.ObjectKey]string{}
	}
	p.pending[key] = name
	var once sync.Once
	return name, func() {
		once.Do(func() {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.pending[key] == name {
				delete(p.pending, key)
			}
		})
	}, nil
}

// Views returns every cell as placement sees it, sorted by name.
func (p *Placer) Views(ctx context.Context) ([]View, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.views(ctx)
}

func (p *Placer) views(ctx context.Context) ([]View, error) {
	var cells v1alpha1.CellList
	if err := p.Cells.List(ctx, &cells); err != nil {
		return nil, fmt.Errorf("listing cells: %w", err)
	}
	now := time.Now()
	if p.Now != nil {
		now = p.Now()
	}
	stale := p.StaleAfter
	if stale <= 0 {
		stale = DefaultStaleAfter
	}
	pending := map[string]int{}
	for key, cell := range p.pending {
		if !p.Tally.Has(key) {
			pending[cell]++
		}
	}
	views := make([]View, 0, len(cells.Items))
	for i := range cells.Items {
		c := &cells.Items[i]
		views = append(views, Judge(c, p.Tally.Placed(c.Name)+pending[c.Name], now, stale))
	}
	slices.SortFunc(views, func(a, b View) int { return strings.Compare(a.Name, b.Name) })
	return views, nil
}

// noRoom explains why no cell can take a cluster. While some cell is only
// unreachable the condition may pass, so it is reported as unavailable (a retry
// may succeed); when every cell is full or draining it is a limit.
func noRoom(views []View) error {
	if len(views) == 0 {
		return fmt.Errorf("%w: the region has no cells", errdefs.ErrUnavailable)
	}
	kind := errdefs.ErrLimitExceeded
	why := make([]string, len(views))
	for i, v := range views {
		why[i] = v.Describe()
		if v.State == Unreachable {
			kind = errdefs.ErrUnavailable
		}
	}
	return fmt.Errorf("%w: no cell can take a new cluster: %s", kind, strings.Join(why, "; "))
}

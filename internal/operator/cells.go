package operator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/zones"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/placement"
	"github.com/cellplane/cellplane/internal/poll"
)

// Cells lets an operator see and steer the cells of the cellplane on a data
// directory and their zones.
type Cells struct {
	region client.Client
}

// Cells connects to the region's store.
func (c *Client) Cells() (*Cells, error) {
	cl, err := c.regionStore()
	if err != nil {
		return nil, err
	}
	return &Cells{region: cl}, nil
}

// List returns every cell as placement sees it, by name.
func (c *Cells) List(ctx context.Context) ([]placement.View, error) {
	var cells v1alpha1.CellList
	if err := c.region.List(ctx, &cells); err != nil {
		return nil, fmt.Errorf("listing cells: %w", err)
	}
	var clusters metav1.PartialObjectMetadataList
	clusters.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("ClusterList"))
	if err := c.region.List(ctx, &clusters); err != nil {
		return nil, fmt.Errorf("listing clusters: %w", err)
	}
	placed := map[string]int{}
	for _, m := range clusters.Items {
		placed[m.Labels[v1alpha1.LabelCell]]++
	}
	now := time.Now()
	views := make([]placement.View, len(cells.Items))
	for i := range cells.Items {
		views[i] = placement.Judge(&cells.Items[i], placed[cells.Items[i].Name], now, placement.DefaultStaleAfter)
	}
	return views, nil
}

// SetDraining starts (true) or ends (false) draining a cell: a draining cell
// gets no new clusters and keeps serving the ones it has.
func (c *Cells) SetDraining(ctx context.Context, name string, draining bool) error {
	return c.update(ctx, name, func(cell *v1alpha1.Cell) { cell.Spec.Draining = draining })
}

// SetCapacity sets how many clusters the region places in a cell.
func (c *Cells) SetCapacity(ctx context.Context, name string, capacity int) error {
	if capacity < 0 || capacity > 1<<20 {
		return fmt.Errorf("%w: capacity must be from 0 to %d, got %d", errdefs.ErrInvalidParameter, 1<<20, capacity)
	}
	return c.update(ctx, name, func(cell *v1alpha1.Cell) { cell.Spec.Capacity = int32(capacity) }) //nolint:gosec // G115: checked to be at most 1<<20 above
}

// Zones a cell's members are spread over; any one can be shifted out.
var shiftableZones = []string{"a", "b", "c"}

// ShiftZone shifts zone out of cell name (undo: back in). The cell drains the
// zone's API servers, stops its controllers and moves etcd's leader out, in
// every cluster. One zone at a time: with two out, no cluster keeps an API
// server.
func (c *Cells) ShiftZone(ctx context.Context, name, zone string, undo bool) error {
	if !slices.Contains(shiftableZones, zone) {
		return fmt.Errorf("%w: zone must be one of %s, got %q", errdefs.ErrInvalidParameter, strings.Join(shiftableZones, ", "), zone)
	}
	var refused error
	err := c.update(ctx, name, func(cell *v1alpha1.Cell) {
		refused = nil
		switch {
		case undo:
			cell.Spec.ZoneShifts = slices.DeleteFunc(cell.Spec.ZoneShifts, func(z string) bool { return z == zone })
		case slices.Contains(cell.Spec.ZoneShifts, zone):
		case len(cell.Spec.ZoneShifts) > 0:
			refused = fmt.Errorf("%w: zone %s is already shifted out of %s; shift it back first (zone shift %s --cell %s --undo)",
				errdefs.ErrInvalidRequest, cell.Spec.ZoneShifts[0], name, cell.Spec.ZoneShifts[0], name)
		default:
			cell.Spec.ZoneShifts = append(cell.Spec.ZoneShifts, zone)
		}
	})
	if refused != nil {
		return refused
	}
	return err
}

func (c *Cells) update(ctx context.Context, name string, change func(*v1alpha1.Cell)) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var cell v1alpha1.Cell
		err := c.region.Get(ctx, client.ObjectKey{Name: name}, &cell)
		if apierrors.IsNotFound(err) {
			return fmt.Errorf("%w: no cell named %q; 'cellplane cell list' shows the cells", errdefs.ErrNotFound, name)
		}
		if err != nil {
			return fmt.Errorf("reading cell %s: %w", name, err)
		}
		before := cell.DeepCopy()
		change(&cell)
		if equality.Semantic.DeepEqual(before.Spec, cell.Spec) {
			return nil
		}
		if err := c.region.Update(ctx, &cell); err != nil {
			return fmt.Errorf("updating cell %s: %w", name, err)
		}
		return nil
	})
}

// FaultZone injects fault into a zone of cell name, replacing any fault the
// zone has; a nil fault clears it. Only a cell whose zones live in their own
// network namespaces takes faults. The cell applies them on its next
// heartbeat (within seconds) and reports them in its status.
func (c *Cells) FaultZone(ctx context.Context, name, zone string, fault *v1alpha1.ZoneFault) error {
	if !slices.Contains(shiftableZones, zone) {
		return fmt.Errorf("%w: zone must be one of %s, got %q", errdefs.ErrInvalidParameter, strings.Join(shiftableZones, ", "), zone)
	}
	if fault != nil {
		fault.Zone = zone
		if err := validateFault(*fault); err != nil {
			return err
		}
	}
	var refused error
	err := c.update(ctx, name, func(cell *v1alpha1.Cell) {
		refused = nil
		if fault != nil && !cell.Status.ZoneNamespaces {
			refused = fmt.Errorf("%w: cell %s runs its zones on loopback, where faults cannot be injected; start cellplane with --zone-namespaces on a new data directory",
				errdefs.ErrInvalidRequest, name)
			return
		}
		cell.Spec.ZoneFaults = slices.DeleteFunc(cell.Spec.ZoneFaults, func(f v1alpha1.ZoneFault) bool { return f.Zone == zone })
		if fault != nil {
			cell.Spec.ZoneFaults = append(cell.Spec.ZoneFaults, *fault)
		}
	})
	if refused != nil {
		return refused
	}
	return err
}

// validateFault checks a fault as the cell will apply it; clearing is not a
// fault to record.
func validateFault(f v1alpha1.ZoneFault) error {
	if f.Kind == "" {
		return fmt.Errorf("%w: fault kind must be cut, blackhole or degrade", errdefs.ErrInvalidParameter)
	}
	if err := zones.NetFault(f).Validate(); err != nil {
		return fmt.Errorf("%w: %w", errdefs.ErrInvalidParameter, err)
	}
	return nil
}

// WaitFault waits until cell name reports zone's fault as want (nil: none),
// which it does within a heartbeat of applying it.
func (c *Cells) WaitFault(ctx context.Context, name, zone string, want *v1alpha1.ZoneFault) error {
	err := poll.UntilDone(ctx, 200*time.Millisecond, func() error {
		var cell v1alpha1.Cell
		if err := c.region.Get(ctx, client.ObjectKey{Name: name}, &cell); err != nil {
			return poll.Permanent(fmt.Errorf("reading cell %s: %w", name, err))
		}
		var got *v1alpha1.ZoneFault
		for i, f := range cell.Status.Faults {
			if f.Zone == zone {
				got = &cell.Status.Faults[i]
			}
		}
		if (want == nil) == (got == nil) && (want == nil || want.Kind == got.Kind &&
			want.LatencyMilliseconds == got.LatencyMilliseconds && want.LossPercent == got.LossPercent) {
			return nil
		}
		return fmt.Errorf("cell %s reports %+v in zone %s", name, got, zone)
	})
	if err != nil && !poll.IsPermanent(err) {
		return fmt.Errorf("waiting for cell %s to apply the fault (is it running? 'cellplane cell list' shows its heartbeat): %w", name, err)
	}
	return err
}

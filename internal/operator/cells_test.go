package operator

import (
	"context"
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func namespace(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

func TestShiftZone(t *testing.T) {
	ctx := context.Background()
	env.Create(t, &v1alpha1.Cell{ObjectMeta: metav1.ObjectMeta{Name: "cell-1"}, Spec: v1alpha1.CellSpec{Capacity: 5}})
	region := env.Client(t)
	c, err := testClient(t).Cells()
	if err != nil {
		t.Fatal(err)
	}
	shifts := func() []string {
		var cell v1alpha1.Cell
		if err := region.Get(ctx, client.ObjectKey{Name: "cell-1"}, &cell); err != nil {
			t.Fatal(err)
		}
		return cell.Spec.ZoneShifts
	}
	for _, step := range []struct {
		zone string
		undo bool
		want []string
		err  error
	}{
		{zone: "a", want: []string{"a"}},
		{zone: "a", want: []string{"a"}}, // again: nothing changes
		{zone: "b", want: []string{"a"}, err: errdefs.ErrInvalidRequest},
		{zone: "d", want: []string{"a"}, err: errdefs.ErrInvalidParameter},
		{zone: "b", undo: true, want: []string{"a"}},
		{zone: "a", undo: true, want: nil},
		{zone: "b", want: []string{"b"}},
	} {
		err := c.ShiftZone(ctx, "cell-1", step.zone, step.undo)
		if !errors.Is(err, step.err) || (step.err == nil) != (err == nil) {
			t.Errorf("shift %s (undo %v) = %v, want %v", step.zone, step.undo, err, step.err)
		}
		if got := shifts(); !slices.Equal(got, step.want) {
			t.Errorf("after shift %s (undo %v): shifted %v, want %v", step.zone, step.undo, got, step.want)
		}
	}
	if err := c.ShiftZone(ctx, "cell-9", "a", false); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("unknown cell: %v", err)
	}
}

// Faults are validated before anything is written, refused for a cell on
// loopback, and replace the zone's previous fault.
func TestFaultZone(t *testing.T) {
	ctx := context.Background()
	// cell-1 reported that its zones have namespaces; the store keeps that
	// only through the status subresource.
	env.CreateWithStatus(t, &v1alpha1.Cell{ObjectMeta: metav1.ObjectMeta{Name: "cell-1"}, Spec: v1alpha1.CellSpec{Capacity: 5},
		Status: v1alpha1.CellStatus{ZoneNamespaces: true}})
	env.Create(t, &v1alpha1.Cell{ObjectMeta: metav1.ObjectMeta{Name: "cell-2"}, Spec: v1alpha1.CellSpec{Capacity: 5}})
	region := env.Client(t)
	c, err := testClient(t).Cells()
	if err != nil {
		t.Fatal(err)
	}
	faults := func(name string) []v1alpha1.ZoneFault {
		var cell v1alpha1.Cell
		if err := region.Get(ctx, client.ObjectKey{Name: name}, &cell); err != nil {
			t.Fatal(err)
		}
		return cell.Spec.ZoneFaults
	}
	degrade := &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultDegrade, LatencyMilliseconds: 200, LossPercent: 20}
	for _, step := range []struct {
		cell, zone string
		fault      *v1alpha1.ZoneFault
		err        error
		want       int // faults in cell-1 afterwards
	}{
		{"cell-1", "d", &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultCut}, errdefs.ErrInvalidParameter, 0},
		{"cell-1", "a", &v1alpha1.ZoneFault{Kind: "flood"}, errdefs.ErrInvalidParameter, 0},
		{"cell-1", "a", &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultDegrade}, errdefs.ErrInvalidParameter, 0},
		{"cell-1", "a", &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultDegrade, LossPercent: 101}, errdefs.ErrInvalidParameter, 0},
		{"cell-1", "a", &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultBlackhole, LatencyMilliseconds: 5}, errdefs.ErrInvalidParameter, 0},
		{"cell-2", "a", &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultCut}, errdefs.ErrInvalidRequest, 0},
		{"cell-9", "a", &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultCut}, errdefs.ErrNotFound, 0},
		{"cell-1", "a", &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultBlackhole}, nil, 1},
		{"cell-1", "a", degrade, nil, 1},
		{"cell-1", "b", &v1alpha1.ZoneFault{Kind: v1alpha1.ZoneFaultCut}, nil, 2},
		{"cell-1", "b", nil, nil, 1},
	} {
		err := c.FaultZone(ctx, step.cell, step.zone, step.fault)
		if !errors.Is(err, step.err) || (step.err == nil) != (err == nil) {
			t.Errorf("fault %s/%s %+v = %v, want %v", step.cell, step.zone, step.fault, err, step.err)
		}
		if got := faults("cell-1"); len(got) != step.want {
			t.Errorf("after fault %s/%s %+v: cell-1 has %+v, want %d faults", step.cell, step.zone, step.fault, got, step.want)
		}
	}
	if got := faults("cell-1"); got[0].Kind != v1alpha1.ZoneFaultDegrade || got[0].Zone != "a" || len(faults("cell-2")) != 0 {
		t.Errorf("faults: cell-1 %+v, cell-2 %+v; want only zone a degraded in cell-1", got, faults("cell-2"))
	}
}

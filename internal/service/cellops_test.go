package service

import (
	"context"
	"errors"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestShiftZone(t *testing.T) {
	ctx := context.Background()
	sc, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	region := fake.NewClientBuilder().WithScheme(sc).
		WithObjects(&v1alpha1.Cell{ObjectMeta: metav1.ObjectMeta{Name: "cell-1"}, Spec: v1alpha1.CellSpec{Capacity: 5}}).Build()
	c := &Cells{region: region}
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

package operator

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/platform"
	"github.com/cellplane/cellplane/internal/region/rollouts"
)

// Rollouts lets an operator register platform versions and roll them out
// across the cells.
type Rollouts struct {
	region client.Client
}

// Rollouts connects to the region's store.
func (c *Client) Rollouts() (*Rollouts, error) {
	cl, err := c.regionStore()
	if err != nil {
		return nil, err
	}
	return &Rollouts{region: cl}, nil
}

func offeredMinors() []string {
	var out []string
	for _, r := range components.Releases() {
		out = append(out, r.Minor)
	}
	return out
}

// Register stores a platform version. Registered versions never change:
// a cluster running one would otherwise run what it no longer says.
func (r *Rollouts) Register(ctx context.Context, pv *v1alpha1.PlatformVersion) error {
	if err := platform.Validate(pv, offeredMinors()); err != nil {
		return fmt.Errorf("%w: %w", errdefs.ErrInvalidParameter, err)
	}
	obj := &v1alpha1.PlatformVersion{ObjectMeta: metav1.ObjectMeta{Name: pv.Name}, Spec: pv.Spec}
	err := r.region.Create(ctx, obj)
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("%w: platform version %s is registered already; register changes under a new name", errdefs.ErrAlreadyExists, pv.Name)
	}
	if err != nil {
		return fmt.Errorf("registering platform version %s: %w", pv.Name, err)
	}
	return nil
}

// Versions lists the built-in and registered platform versions.
func (r *Rollouts) Versions(ctx context.Context) ([]platform.Version, error) {
	out := platform.Builtins()
	var list v1alpha1.PlatformVersionList
	if err := r.region.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing platform versions: %w", err)
	}
	for i := range list.Items {
		out = append(out, platform.FromObject(&list.Items[i]))
	}
	return out, nil
}

// Start checks and creates a rollout, returning it as stored. Bad input
// creates nothing.
func (r *Rollouts) Start(ctx context.Context, spec v1alpha1.PlatformRolloutSpec) (*v1alpha1.PlatformRollout, error) {
	if err := r.check(ctx, spec); err != nil {
		return nil, err
	}
	name := fmt.Sprintf("%s-%s-%d", strings.ReplaceAll(spec.Minor, ".", "-"), strings.ReplaceAll(spec.PlatformVersion, ".", "-"), time.Now().Unix())
	ro := &v1alpha1.PlatformRollout{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	if err := r.region.Create(ctx, ro); err != nil {
		return nil, fmt.Errorf("creating rollout: %w", err)
	}
	return ro, nil
}

func (r *Rollouts) check(ctx context.Context, spec v1alpha1.PlatformRolloutSpec) error {
	if !slices.Contains(offeredMinors(), spec.Minor) {
		return fmt.Errorf("%w: minor %q is not offered (offered: %s)", errdefs.ErrInvalidParameter, spec.Minor, strings.Join(offeredMinors(), ", "))
	}
	_, err := (platform.Catalog{Store: r.region}).Resolve(ctx, spec.Minor, spec.PlatformVersion)
	if errors.Is(err, platform.ErrUnknown) || errors.Is(err, platform.ErrWrongMinor) {
		return fmt.Errorf("%w: %w", errdefs.ErrInvalidParameter, err)
	}
	if err != nil {
		return err
	}
	if err := rollouts.ValidatePercents(spec.WavePercents); err != nil {
		return fmt.Errorf("%w: %w", errdefs.ErrInvalidParameter, err)
	}
	if err := r.checkCells(ctx, spec.Cells); err != nil {
		return err
	}
	list, err := r.List(ctx)
	if err != nil {
		return err
	}
	for _, o := range list {
		if o.Spec.Minor == spec.Minor && !rollouts.Terminal(o.Status.State) {
			return fmt.Errorf("%w: rollout %s of %s is %s; pause, abort or wait for it first", errdefs.ErrInvalidRequest,
				o.Name, o.Spec.Minor, stateOf(&o))
		}
	}
	return nil
}

func (r *Rollouts) checkCells(ctx context.Context, cells []string) error {
	for i, name := range cells {
		if slices.Contains(cells[:i], name) {
			return fmt.Errorf("%w: cell %s is named twice", errdefs.ErrInvalidParameter, name)
		}
		if err := r.region.Get(ctx, client.ObjectKey{Name: name}, &v1alpha1.Cell{}); apierrors.IsNotFound(err) {
			return fmt.Errorf("%w: no cell %s", errdefs.ErrInvalidParameter, name)
		} else if err != nil {
			return fmt.Errorf("reading cell %s: %w", name, err)
		}
	}
	return nil
}

func stateOf(ro *v1alpha1.PlatformRollout) string {
	if ro.Status.State == "" {
		return "Starting"
	}
	return ro.Status.State
}

// List returns every rollout, newest first.
func (r *Rollouts) List(ctx context.Context) ([]v1alpha1.PlatformRollout, error) {
	var list v1alpha1.PlatformRolloutList
	if err := r.region.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing rollouts: %w", err)
	}
	slices.SortFunc(list.Items, func(a, b v1alpha1.PlatformRollout) int {
		return b.CreationTimestamp.Compare(a.CreationTimestamp.Time)
	})
	return list.Items, nil
}

// Get returns one rollout.
func (r *Rollouts) Get(ctx context.Context, name string) (*v1alpha1.PlatformRollout, error) {
	ro := &v1alpha1.PlatformRollout{}
	err := r.region.Get(ctx, client.ObjectKey{Name: name}, ro)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w: no rollout %s", errdefs.ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading rollout %s: %w", name, err)
	}
	return ro, nil
}

// Pause holds a running rollout; Resume lets it go on.
func (r *Rollouts) Pause(ctx context.Context, name string) error {
	return r.steer(ctx, name, "paused", true)
}
func (r *Rollouts) Resume(ctx context.Context, name string) error {
	return r.steer(ctx, name, "paused", false)
}

// Abort stops a rollout for good; its clusters keep what they run.
func (r *Rollouts) Abort(ctx context.Context, name string) error {
	return r.steer(ctx, name, "abort", true)
}

func (r *Rollouts) steer(ctx context.Context, name, field string, v bool) error {
	ro, err := r.Get(ctx, name)
	if err != nil {
		return err
	}
	if rollouts.Terminal(ro.Status.State) {
		return fmt.Errorf("%w: rollout %s is %s already", errdefs.ErrInvalidRequest, name, ro.Status.State)
	}
	body := fmt.Appendf(nil, `{"spec":{%q:%t}}`, field, v)
	if err := r.region.Patch(ctx, ro, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("updating rollout %s: %w", name, err)
	}
	return nil
}

// Rollouts is the rollout wave that currently touches each cell: its
// version, wave and state, for 'cell list'.
func (c *Cells) Rollouts(ctx context.Context) (map[string]string, error) {
	list, err := (&Rollouts{region: c.region}).List(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, ro := range list {
		st := ro.Status
		if rollouts.Terminal(st.State) || int(st.CurrentWave) >= len(st.Waves) {
			continue
		}
		w := st.Waves[st.CurrentWave]
		if _, seen := out[w.Cell]; !seen {
			out[w.Cell] = fmt.Sprintf("%s %s %s/%s", ro.Spec.PlatformVersion, w.Name, st.State, w.Phase)
		}
	}
	return out, nil
}

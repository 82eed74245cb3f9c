package rollouts

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/platform"
)

// pollRunning is how often a running rollout looks at its wave.
const pollRunning = time.Second

// Reconciler runs PlatformRollouts against the region's store.
type Reconciler struct {
	Client client.Client // the region's store
	Logger *slog.Logger
	Now    func() time.Time
}

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("platformrollouts").For(&v1alpha1.PlatformRollout{}).Complete(r)
}

// Terminal reports whether a rollout in state s is over.
func Terminal(s string) bool {
	return s == v1alpha1.RolloutCompleted || s == v1alpha1.RolloutAborted || s == v1alpha1.RolloutHalted
}

// Reconcile takes one step of a rollout and records it in its status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ro := &v1alpha1.PlatformRollout{}
	if err := r.Client.Get(ctx, req.NamespacedName, ro); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if Terminal(ro.Status.State) {
		return ctrl.Result{}, nil
	}
	orig := ro.DeepCopy()
	res, err := r.step(ctx, ro)
	if !equality.Semantic.DeepEqual(orig.Status, ro.Status) {
		// An update, not a patch: a step decided on a stale copy must not
		// land (the resourceVersion makes it conflict and run again).
		if uerr := r.Client.Status().Update(ctx, ro); uerr != nil {
			return ctrl.Result{}, fmt.Errorf("recording rollout %s: %w", ro.Name, uerr)
		}
		if ro.Status.State != orig.Status.State {
			r.Logger.Info("platform rollout", "rollout", ro.Name, "state", ro.Status.State, "message", ro.Status.Message)
		}
	}
	return res, err
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reconciler) step(ctx context.Context, ro *v1alpha1.PlatformRollout) (ctrl.Result, error) {
	st := &ro.Status
	switch {
	case st.State == "":
		return r.start(ctx, ro)
	case st.State == v1alpha1.RolloutRollingBack:
		return r.rollBack(ctx, ro)
	case ro.Spec.Abort:
		r.finish(ro, v1alpha1.RolloutAborted, "aborted by an operator: clusters keep the version they run")
		return ctrl.Result{}, nil
	case ro.Spec.Paused:
		st.State, st.Message = v1alpha1.RolloutPaused, "paused by an operator"
		return ctrl.Result{}, nil
	}
	st.State, st.Message = v1alpha1.RolloutRunning, ""
	return r.advance(ctx, ro)
}

func (r *Reconciler) finish(ro *v1alpha1.PlatformRollout, state, msg string) {
	t := metav1.NewTime(r.now())
	ro.Status.State, ro.Status.Message, ro.Status.CompletionTime = state, msg, &t
}

// start checks the rollout once more (the operator's client checked it
// before creating it, but another rollout may have started meanwhile) and
// plans its waves.
func (r *Reconciler) start(ctx context.Context, ro *v1alpha1.PlatformRollout) (ctrl.Result, error) {
	if msg, err := r.refusal(ctx, ro); err != nil || msg != "" {
		if msg != "" {
			r.finish(ro, v1alpha1.RolloutAborted, msg)
		}
		return ctrl.Result{}, err
	}
	cells, err := r.cells(ctx, ro)
	if err != nil {
		return ctrl.Result{}, err
	}
	byCell, err := r.candidates(ctx, ro)
	if err != nil {
		return ctrl.Result{}, err
	}
	t := metav1.NewTime(r.now())
	ro.Status.StartTime = &t
	ro.Status.Waves = PlanWaves(cells, byCell, ro.Spec.WavePercents)
	if len(ro.Status.Waves) == 0 {
		r.finish(ro, v1alpha1.RolloutCompleted, "no ACTIVE cluster of "+ro.Spec.Minor+" runs another platform version")
		return ctrl.Result{}, nil
	}
	ro.Status.State = v1alpha1.RolloutRunning
	return ctrl.Result{RequeueAfter: pollRunning}, nil
}

// refusal says why the rollout cannot run, if it cannot.
func (r *Reconciler) refusal(ctx context.Context, ro *v1alpha1.PlatformRollout) (string, error) {
	if _, err := (platform.Catalog{Store: r.Client}).Resolve(ctx, ro.Spec.Minor, ro.Spec.PlatformVersion); err != nil {
		return err.Error(), nil
	}
	if err := ValidatePercents(ro.Spec.WavePercents); err != nil {
		return err.Error(), nil
	}
	var all v1alpha1.PlatformRolloutList
	if err := r.Client.List(ctx, &all); err != nil {
		return "", fmt.Errorf("listing rollouts: %w", err)
	}
	for _, o := range all.Items {
		if o.Name == ro.Name || o.Spec.Minor != ro.Spec.Minor || Terminal(o.Status.State) {
			continue
		}
		// Of two created at once, neither started yet, the older goes.
		if o.Status.State != "" || older(&o, ro) {
			return fmt.Sprintf("rollout %s of %s is still %s", o.Name, o.Spec.Minor, cmp.Or(o.Status.State, "starting")), nil
		}
	}
	return "", nil
}

func older(a, b *v1alpha1.PlatformRollout) bool {
	if !a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.CreationTimestamp.Before(&b.CreationTimestamp)
	}
	return a.Name < b.Name
}

func (r *Reconciler) cells(ctx context.Context, ro *v1alpha1.PlatformRollout) ([]string, error) {
	if len(ro.Spec.Cells) > 0 {
		return ro.Spec.Cells, nil
	}
	var cells v1alpha1.CellList
	if err := r.Client.List(ctx, &cells); err != nil {
		return nil, fmt.Errorf("listing cells: %w", err)
	}
	var names []string
	for _, c := range cells.Items {
		names = append(names, c.Name)
	}
	slices.Sort(names)
	return names, nil
}

// candidates are the ACTIVE clusters of the minor not on the target yet, by
// cell, in namespace/name order.
func (r *Reconciler) candidates(ctx context.Context, ro *v1alpha1.PlatformRollout) (map[string][]Candidate, error) {
	var clusters v1alpha1.ClusterList
	if err := r.Client.List(ctx, &clusters); err != nil {
		return nil, fmt.Errorf("listing clusters: %w", err)
	}
	items := clusters.Items
	slices.SortFunc(items, func(a, b v1alpha1.Cluster) int {
		return cmp.Or(strings.Compare(a.Namespace, b.Namespace), strings.Compare(a.Name, b.Name))
	})
	out := map[string][]Candidate{}
	for _, c := range items {
		current := cmp.Or(c.Spec.PlatformVersion, platform.Default(c.Spec.Version))
		if c.Spec.Version != ro.Spec.Minor || !c.DeletionTimestamp.IsZero() || c.Status.Status != v1alpha1.StatusActive ||
			current == ro.Spec.PlatformVersion {
			continue
		}
		out[c.Spec.Cell] = append(out[c.Spec.Cell], Candidate{Namespace: c.Namespace, Name: c.Name,
			ClusterName: c.Spec.Name, Previous: c.Spec.PlatformVersion})
	}
	return out, nil
}

// measure is a cluster's API counters as its cell last reported them, and
// when it did.
type measure struct {
	v1alpha1.ClusterAPIHealth
	at time.Time
}

// health is every cluster's measure.
func (r *Reconciler) health(ctx context.Context) (map[string]measure, error) {
	var cells v1alpha1.CellList
	if err := r.Client.List(ctx, &cells); err != nil {
		return nil, fmt.Errorf("listing cells: %w", err)
	}
	out := map[string]measure{}
	for _, c := range cells.Items {
		var at time.Time
		if hb := c.Status.HeartbeatTime; hb != nil {
			at = hb.Time
		}
		for _, h := range c.Status.APIHealth {
			out[h.Cluster] = measure{h, at}
		}
	}
	return out, nil
}

func key(t v1alpha1.RolloutTarget) string { return t.Namespace + "/" + t.Name }

// cluster reads a target; nil when it is gone.
func (r *Reconciler) cluster(ctx context.Context, t v1alpha1.RolloutTarget) (*v1alpha1.Cluster, error) {
	c := &v1alpha1.Cluster{}
	err := r.Client.Get(ctx, types.NamespacedName{Namespace: t.Namespace, Name: t.Name}, c)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading cluster %s: %w", key(t), err)
	}
	return c, nil
}

// setPlatform sets a cluster's spec.platformVersion (empty removes it) if
// it differs.
func (r *Reconciler) setPlatform(ctx context.Context, c *v1alpha1.Cluster, v string) error {
	if c == nil || c.Spec.PlatformVersion == v {
		return nil
	}
	var val any = v
	if v == "" {
		val = nil
	}
	body, err := json.Marshal(map[string]any{"spec": map[string]any{"platformVersion": val}})
	if err != nil {
		return err
	}
	if err := r.Client.Patch(ctx, c, client.RawPatch(types.MergePatchType, body)); err != nil {
		return fmt.Errorf("setting platform version %q on cluster %s/%s: %w", v, c.Namespace, c.Name, err)
	}
	return nil
}

// runs reports whether c runs platform version v healthy.
func runs(c *v1alpha1.Cluster, v string) bool {
	return c.Status.PlatformVersion == v && c.Status.Status == v1alpha1.StatusActive &&
		meta.IsStatusConditionTrue(c.Status.Conditions, v1alpha1.ConditionReady)
}

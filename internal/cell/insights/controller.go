package insights

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/insights"
)

// DefaultInterval is how often a cluster's insights are refreshed unasked:
// daily, as EKS does.
const DefaultInterval = 24 * time.Hour

// Gatherer collects what insights are computed from. The cell's gatherer
// reads the API servers and the audit logs; unit tests fake it.
type Gatherer interface {
	Gather(ctx context.Context, c *v1alpha1.Cluster, now time.Time) (Gathered, error)
}

// Gathered is what one refresh collected. Partial names the sources that
// could not be read, shown in the refresh's message.
type Gathered struct {
	Usage    *insights.Usage
	Nodes    []insights.Node
	NodesErr error
	Addons   []insights.Addon
	Partial  []string
}

// Reconciler refreshes the insights of the cell's ACTIVE clusters.
type Reconciler struct {
	Client client.Client // the cell's store
	Gather Gatherer
	Logger *slog.Logger
	// CompatibleAddons is the add-on catalogue (addoncatalog).
	CompatibleAddons func(addon, minor string) []string
	// Rollback judges whether the cluster's last upgrade can be rolled back;
	// nil, or a nil verdict, when there is nothing to judge.
	Rollback func(c *v1alpha1.Cluster) *insights.Verdict
	// Interval defaults to DefaultInterval; Now to time.Now.
	Interval time.Duration
	Now      func() time.Time
}

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Interval == 0 {
		r.Interval = DefaultInterval
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("insights").
		For(&v1alpha1.Cluster{}, builder.WithPredicates(refreshTriggers)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 2}).
		Complete(r)
}

// refreshTriggers lets through what may make a refresh due: a request, the
// cluster becoming ACTIVE, a new spec. Without it every status write (its
// own included) would wake it.
var refreshTriggers = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, okOld := e.ObjectOld.(*v1alpha1.Cluster)
		n, okNew := e.ObjectNew.(*v1alpha1.Cluster)
		if !okOld || !okNew {
			return true
		}
		return o.Annotations[v1alpha1.AnnotationInsightsRefreshRequested] != n.Annotations[v1alpha1.AnnotationInsightsRefreshRequested] ||
			o.Status.Status != n.Status.Status || o.Generation != n.Generation
	},
	DeleteFunc: func(event.DeleteEvent) bool { return false },
}

// Reconcile refreshes one cluster's insights when a refresh is due, and
// comes back when the next one is.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	c := &v1alpha1.Cluster{}
	if err := r.Client.Get(ctx, req.NamespacedName, c); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !c.DeletionTimestamp.IsZero() || c.Status.Status != v1alpha1.StatusActive || c.Status.Slot == nil {
		return ctrl.Result{}, nil // an UPDATING cluster is refreshed once ACTIVE again
	}
	now := r.Now()
	if wait := r.due(c, now); wait > 0 {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	next := r.refresh(ctx, tenant.Logger(r.Logger, c), c, now)
	if err := r.patch(ctx, c, next); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: r.Interval}, nil
}

// due returns how long until the next refresh; zero or less when one is due
// now: asked for and not yet answered, or the last one older than Interval.
func (r *Reconciler) due(c *v1alpha1.Cluster, now time.Time) time.Duration {
	st := c.Status.Insights
	asked, ok := c.Annotations[v1alpha1.AnnotationInsightsRefreshRequested]
	if st == nil || st.EndedAt == nil || (ok && asked != st.Request) {
		return 0
	}
	return st.EndedAt.Add(r.Interval).Sub(now)
}

// refresh computes the insights. A refresh that gathered nothing fails and
// keeps the last insights; one that read some sources completes and says
// which it missed.
func (r *Reconciler) refresh(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, now time.Time) v1alpha1.InsightsStatus {
	started := metav1.NewMicroTime(now)
	next := v1alpha1.InsightsStatus{Request: c.Annotations[v1alpha1.AnnotationInsightsRefreshRequested], StartedAt: &started}
	var prev []v1alpha1.ClusterInsight
	if c.Status.Insights != nil {
		prev = c.Status.Insights.Items
	}
	g, err := r.Gather.Gather(ctx, c, now)
	var items []v1alpha1.ClusterInsight
	if err == nil {
		in := insights.Input{ClusterUID: string(c.UID), Version: clusterversions.RunningMinor(c), Now: now, Usage: g.Usage,
			Nodes: g.Nodes, NodesErr: g.NodesErr, Addons: g.Addons, CompatibleAddons: r.CompatibleAddons, Previous: prev}
		if p := c.Spec.UpgradePolicy; p != nil {
			in.SupportType = p.SupportType
		}
		if r.Rollback != nil {
			in.Rollback = r.Rollback(c)
		}
		items, err = insights.Compute(in)
	}
	ended := metav1.NewMicroTime(r.Now())
	next.EndedAt = &ended
	if err != nil {
		log.Warn("refreshing insights", "err", err)
		next.Phase, next.Message, next.Items = eks.InsightsRefreshFailed, "Refreshing the insights failed: "+err.Error(), prev
		return next
	}
	next.Phase, next.Items = eks.InsightsRefreshCompleted, items
	next.Message = fmt.Sprintf("Refreshed %d insights.", len(items))
	if len(g.Partial) > 0 {
		next.Message += fmt.Sprintf(" Not read: %v.", g.Partial)
	}
	log.Info("refreshed insights", "insights", len(items), "request", next.Request, "partial", g.Partial, "nodesErr", g.NodesErr)
	return next
}

// patch writes status.insights alone, with a merge patch that names no other
// field, so it never undoes what the lifecycle patches meanwhile.
func (r *Reconciler) patch(ctx context.Context, c *v1alpha1.Cluster, st v1alpha1.InsightsStatus) error {
	body, err := json.Marshal(map[string]any{"status": map[string]any{"insights": st}})
	if err != nil {
		return err
	}
	obj := &v1alpha1.Cluster{}
	obj.Namespace, obj.Name = c.Namespace, c.Name
	err = r.Client.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, body))
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("patching status.insights: %w", err)
	}
	return nil
}

package nodegroups

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/nodes/nodeaddr"
	"github.com/cellplane/cellplane/internal/runtime/cgroup"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// Requeue intervals: quickly while nodes come and go, slowly once the group
// is what it should be (the Nodes' readiness is polled, not watched: the
// cell watches no tenant cluster).
const (
	busyRequeue   = 2 * time.Second
	steadyRequeue = 30 * time.Second
	// kubeletRequeue is a settled group of real nodes' pass: each reviews
	// the cluster's pending serving certificate requests (renewals, a
	// stranger's), which wait for it.
	kubeletRequeue = 10 * time.Second
)

// Binaries finds the kubemark binary (hollow nodes), the kubelet and
// kube-proxy (real nodes) of a release, and CoreDNS (real nodes' images).
type Binaries interface {
	Tools(ctx context.Context, r components.Release) (components.ToolBinaries, error)
	Node(ctx context.Context, r components.Release) (components.NodeBinaries, error)
	CoreDNS(ctx context.Context) (components.CoreDNSBinaries, error)
}

// Reconciler runs the nodes of the cell's node groups.
type Reconciler struct {
	Client   client.Client
	Layout   tenant.Layout
	Runner   tenant.Runner
	Binaries Binaries
	// ImagesDir caches the OCI archives real nodes load (package images).
	ImagesDir string
	// NodeAddresses hands out real nodes' addresses, host-wide; its zero
	// value uses nodeaddr.DefaultDir.
	NodeAddresses nodeaddr.Allocator
	Logger        *slog.Logger
	tenants       tenantClients

	imagesMu sync.Mutex
	images   map[string][]string // by the release's kube-proxy
}

// SetupWithManager registers the reconciler for the cell's NodeGroups.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).Named("nodegroups").For(&v1alpha1.NodeGroup{}).Complete(r)
}

// Reconcile brings one group's nodes to its spec: fetch the group and its
// cluster, tear down a deleted group, else run the phases and store what
// they found in its status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ng := &v1alpha1.NodeGroup{}
	if err := r.Client.Get(ctx, req.NamespacedName, ng); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	c := &v1alpha1.Cluster{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: ng.Namespace, Name: ng.Labels[v1alpha1.LabelCluster]}, c)
	if apierrors.IsNotFound(err) {
		c = nil
	} else if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading cluster of node group %s: %w", ng.Spec.NodegroupName, err)
	}
	log := r.Logger.With("nodegroup", ng.Spec.NodegroupName, "cluster", ng.Spec.ClusterName, "namespace", ng.Namespace)
	if !ng.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.teardown(ctx, log, c, ng)
	}
	if c == nil || c.Status.Slot == nil {
		return ctrl.Result{RequeueAfter: busyRequeue}, nil
	}
	before := ng.Status.DeepCopy()
	res, err := r.run(ctx, log, c, ng)
	if !equality.Semantic.DeepEqual(before, &ng.Status) {
		if uerr := r.Client.Status().Update(ctx, ng); uerr != nil && !apierrors.IsConflict(uerr) {
			return ctrl.Result{}, fmt.Errorf("storing status of node group %s: %w", ng.Spec.NodegroupName, uerr)
		}
	}
	return res, err
}

// run takes the group's next steps and sets its status.
func (r *Reconciler) run(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, ng *v1alpha1.NodeGroup) (ctrl.Result, error) {
	g, err := r.group(ctx, c, ng)
	if err != nil {
		r.issue(ng, "InternalFailure", err.Error())
		return ctrl.Result{}, err
	}
	if isKubelet(ng) {
		if err := g.reviewServingCSRs(ctx, log); err != nil {
			log.Warn("reviewing serving certificate requests", "err", err)
		}
	}
	pending, err := g.converge(ctx, log)
	if err != nil {
		r.issue(ng, "InternalFailure", err.Error())
		return ctrl.Result{RequeueAfter: busyRequeue}, nil
	}
	ready, err := g.readiness(ctx)
	if err != nil {
		r.issue(ng, "ClusterUnreachable", err.Error())
		return ctrl.Result{RequeueAfter: busyRequeue}, nil
	}
	res := r.setStatus(ng, g, ready, pending)
	if isKubelet(ng) && res.RequeueAfter == steadyRequeue {
		res.RequeueAfter = kubeletRequeue
	}
	return res, nil
}

// setStatus records what the pass found: ACTIVE once every wanted node is
// Ready and nothing is left to remove or replace.
func (r *Reconciler) setStatus(ng *v1alpha1.NodeGroup, g *group, ready []string, pending []v1alpha1.NodeGroupIssue) ctrl.Result {
	ng.Status.Nodes = g.wantNames()
	ng.Status.ReadyNodes = int32(len(ready)) //nolint:gosec // G115: at most the group's size, 450
	if len(ready) == len(g.want) && len(pending) == 0 {
		ng.Status.Phase = v1alpha1.NodeGroupActive
		ng.Status.ObservedGeneration = ng.Generation
		ng.Status.Issues = nil
		return ctrl.Result{RequeueAfter: steadyRequeue}
	}
	var notReady []string
	for _, n := range g.wantNames() {
		if !slices.Contains(ready, n) {
			notReady = append(notReady, n)
		}
	}
	ng.Status.Issues = pending
	switch {
	case ng.Status.Phase == "":
		ng.Status.Phase = v1alpha1.NodeGroupCreating
	case ng.Status.Phase == v1alpha1.NodeGroupActive && ng.Status.ObservedGeneration == ng.Generation && len(notReady) > 0:
		ng.Status.Phase = v1alpha1.NodeGroupDegraded
		ng.Status.Issues = append(ng.Status.Issues, v1alpha1.NodeGroupIssue{Code: "NodeCreationFailure",
			Message: fmt.Sprintf("%d of %d nodes are not Ready.", len(notReady), len(g.want)), ResourceIDs: notReady})
	}
	return ctrl.Result{RequeueAfter: busyRequeue}
}

func (r *Reconciler) issue(ng *v1alpha1.NodeGroup, code, msg string) {
	if ng.Status.Phase == "" {
		ng.Status.Phase = v1alpha1.NodeGroupCreating
	}
	ng.Status.Issues = []v1alpha1.NodeGroupIssue{{Code: code, Message: msg}}
}

// teardown stops every node of a deleted group, deletes their Nodes and
// files and lets the group go.
func (r *Reconciler) teardown(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, ng *v1alpha1.NodeGroup) error {
	if !controllerutil.ContainsFinalizer(ng, v1alpha1.FinalizerNodeGroup) {
		return nil
	}
	if c != nil && c.Status.Slot != nil {
		g, err := r.group(ctx, c, ng)
		if err != nil {
			return err
		}
		if err := g.removeAll(ctx, log); err != nil {
			return err
		}
	}
	controllerutil.RemoveFinalizer(ng, v1alpha1.FinalizerNodeGroup)
	if err := r.Client.Update(ctx, ng); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("releasing node group %s: %w", ng.Spec.NodegroupName, err)
	}
	log.Info("deleted node group")
	return nil
}

// cgroupOf is the cluster's nodes' control group, apart from its control
// plane's, so that neither starves the other; nil without cgroups. It
// holds every node group of the cluster, each node about 80 MB resident
// and a few dozen threads.
func (r *Reconciler) cgroupOf(c *v1alpha1.Cluster, ng *v1alpha1.NodeGroup) (*cgroup.Group, error) {
	iso := r.Layout.Isolation
	if iso == nil || iso.Cgroups == nil {
		return nil, nil
	}
	var groups v1alpha1.NodeGroupList
	n := 0
	if err := r.Client.List(context.Background(), &groups, client.InNamespace(c.Namespace), client.MatchingLabels{v1alpha1.LabelCluster: c.Name}); err == nil {
		for _, g := range groups.Items {
			n += int(max(g.Spec.Scaling.DesiredSize, g.Spec.Scaling.MaxSize))
		}
	}
	n = max(n, int(ng.Spec.Scaling.MaxSize))
	limits := cgroup.Limits{CPUWeight: 100, MemoryBytes: int64(256+192*n) << 20, Pids: 512 + 256*n}
	g := iso.Cgroups.Group(tenant.CgroupName(r.Layout.Cell, c) + ".nodes")
	if err := g.Ensure(limits); err != nil {
		return nil, fmt.Errorf("creating the nodes' cgroup: %w", err)
	}
	return g, nil
}

// cgroupArg turns a possibly nil group into the runtime's interface
// without a typed nil inside.
func cgroupArg(g *cgroup.Group) process.Cgroup {
	if g == nil {
		return nil
	}
	return g
}

// removeDir removes a node's files.
func removeDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing node files: %w", err)
	}
	return nil
}

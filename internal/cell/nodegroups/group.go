package nodegroups

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/internal/runtime/cgroup"
)

// group is one pass's view of a node group: what it wants, what it has on
// disk, and the handles to change it.
type group struct {
	r        *Reconciler
	c        *v1alpha1.Cluster
	ng       *v1alpha1.NodeGroup
	plan     *controlplane.Plan
	dir      string
	want     []node
	kube     kubernetes.Interface
	kubemark string
	nodeBins components.NodeBinaries // real nodes' kubelet
	cg       *cgroup.Group
}

// group gathers a pass's handles; the kubemark binary is built on first use.
func (r *Reconciler) group(ctx context.Context, c *v1alpha1.Cluster, ng *v1alpha1.NodeGroup) (*group, error) {
	p := r.Layout.Addresses(c)
	k, err := r.tenants.get(c, p)
	if err != nil {
		return nil, err
	}
	g := &group{r: r, c: c, ng: ng, plan: p, dir: groupDir(r.Layout.ClusterDir(c), ng), want: slots(ng), kube: k}
	if !ng.DeletionTimestamp.IsZero() {
		return g, nil
	}
	// The group's own minor: node groups move separately from the control
	// plane (UpdateNodegroupVersion), within the kubelet skew policy.
	minor := ng.Spec.Version
	if minor == "" {
		minor = c.Spec.Version
	}
	rel, err := components.Lookup(minor)
	if err != nil {
		return nil, err
	}
	if isKubelet(ng) {
		if g.nodeBins, err = r.Binaries.Node(ctx, rel); err != nil {
			return nil, fmt.Errorf("getting the kubelet %s: %w", rel.Version, err)
		}
	} else {
		bins, err := r.Binaries.Tools(ctx, rel)
		if err != nil {
			return nil, fmt.Errorf("getting kubemark %s: %w", rel.Version, err)
		}
		g.kubemark = bins.Kubemark
	}
	if g.cg, err = r.cgroupOf(c, ng); err != nil {
		return nil, err
	}
	return g, nil
}

func (g *group) wantNames() []string {
	out := make([]string, len(g.want))
	for i, n := range g.want {
		out[i] = n.Name
	}
	return out
}

// have lists the nodes the group has files of.
func (g *group) have() ([]string, error) { return nodeDirs(g.dir) }

// nodeDirs lists the nodes a group directory holds files of: none for a
// directory not made yet.
func nodeDirs(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (g *group) hollow(n node) hollowNode {
	return hollowNode{node: n, Dir: filepath.Join(g.dir, n.Name)}
}

func (g *group) processID(name string) string { return g.plan.ID() + "/nodes/" + name }

// converge removes the nodes the group no longer wants (and those of an
// earlier rollout, maxUnavailable at a time), then starts or adopts every
// node it wants. It returns what is still pending: nodes draining.
func (g *group) converge(ctx context.Context, log *slog.Logger) ([]v1alpha1.NodeGroupIssue, error) {
	have, err := g.have()
	if err != nil {
		return nil, err
	}
	wanted := g.wantNames()
	// Highest slots first, as a scale-down takes them.
	slices.SortFunc(have, func(a, b string) int { return strings.Compare(b, a) })
	var pending []v1alpha1.NodeGroupIssue
	for _, name := range have {
		if slices.Contains(wanted, name) {
			continue
		}
		if issue, err := g.retire(ctx, log, name); err != nil {
			return nil, err
		} else if issue != nil {
			pending = append(pending, *issue)
		}
	}
	pending = append(pending, g.replaceOutdated(ctx, log, have)...)
	if err := g.ensureAll(ctx); err != nil {
		return nil, err
	}
	return pending, g.syncNodes(ctx)
}

// replaceOutdated retires nodes made under an earlier rollout, which
// ensureAll then makes again: as many at a time as maxUnavailable allows,
// counting the wanted nodes not Ready yet (a replacement still starting
// included) against it.
func (g *group) replaceOutdated(ctx context.Context, log *slog.Logger, have []string) []v1alpha1.NodeGroupIssue {
	var pending []v1alpha1.NodeGroupIssue
	outdated := slices.ContainsFunc(g.want, func(n node) bool {
		return slices.Contains(have, n.Name) && g.hollow(n).rollout() < g.ng.Spec.Rollout
	})
	if !outdated {
		return nil
	}
	ready, err := g.readiness(ctx)
	if err != nil {
		return []v1alpha1.NodeGroupIssue{{Code: "ClusterUnreachable", Message: err.Error()}}
	}
	budget := max(int(g.ng.Spec.MaxUnavailable), 1) - (len(g.want) - len(ready))
	for _, n := range g.want {
		h := g.hollow(n)
		if !slices.Contains(have, n.Name) || h.rollout() >= g.ng.Spec.Rollout {
			continue
		}
		if budget <= 0 {
			pending = append(pending, v1alpha1.NodeGroupIssue{Code: "Unknown", Message: "node waits for its replacement", ResourceIDs: []string{n.Name}})
			continue
		}
		budget--
		issue, err := g.retire(ctx, log, n.Name)
		if err != nil {
			issue = &v1alpha1.NodeGroupIssue{Code: "NodeTerminationFailure", Message: err.Error(), ResourceIDs: []string{n.Name}}
		}
		if issue == nil {
			issue = &v1alpha1.NodeGroupIssue{Code: "Unknown", Message: "node is being replaced", ResourceIDs: []string{n.Name}}
		}
		pending = append(pending, *issue)
	}
	return pending
}

// ensureAll starts, or adopts after a cell restart, every wanted node.
func (g *group) ensureAll(ctx context.Context) error {
	if isKubelet(g.ng) {
		return g.ensureKubelets(ctx)
	}
	ca, err := pki.LoadCA(g.plan.Files().CA, g.plan.Files().CAKey)
	if err != nil {
		return fmt.Errorf("loading the cluster's CA: %w", err)
	}
	for _, n := range g.want {
		h := g.hollow(n)
		st, known := g.r.Runner.Status(g.processID(n.Name))
		if err := h.repickPort(st, known); err != nil {
			return err
		}
		if err := h.prepare(g.ng, g.plan, ca); err != nil {
			return err
		}
		spec, err := h.spec(g.processID(n.Name), g.r.Layout.Cellplane, g.kubemark, cgroupArg(g.cg))
		if err != nil {
			return err
		}
		if _, err := g.r.Runner.Ensure(ctx, spec); err != nil {
			return fmt.Errorf("starting node %s: %w", n.Name, err)
		}
	}
	return nil
}

// retire cordons and drains a node, then stops it and deletes its Node and
// files. A drain the disruption budgets hold up is an issue, not an error:
// the node stays cordoned and the next pass tries again.
func (g *group) retire(ctx context.Context, log *slog.Logger, name string) (*v1alpha1.NodeGroupIssue, error) {
	if err := cordon(ctx, g.kube, name); err != nil {
		return nil, err
	}
	if refused, err := drain(ctx, g.kube, name); errors.Is(err, errDraining) {
		code := "Unknown"
		if refused > 0 {
			code = "PodEvictionFailure"
		}
		return &v1alpha1.NodeGroupIssue{Code: code, Message: err.Error(), ResourceIDs: []string{name}}, nil
	} else if err != nil {
		return nil, err
	}
	if err := g.remove(ctx, name); err != nil {
		return nil, err
	}
	log.Info("removed node", "node", name)
	return nil, nil
}

// remove stops a node's process, deletes its Node and its files.
func (g *group) remove(ctx context.Context, name string) error {
	h := hollowNode{node: node{Name: name}, Dir: filepath.Join(g.dir, name)}
	if isKubelet(g.ng) {
		if err := g.removeKubelet(ctx, name); err != nil {
			return err
		}
	} else if err := g.r.Runner.Stop(ctx, h.stopSpec(g.processID(name))); err != nil {
		return fmt.Errorf("stopping node %s: %w", name, err)
	}
	err := g.kube.CoreV1().Nodes().Delete(ctx, name, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting Node %s: %w", name, err)
	}
	return removeDir(h.Dir)
}

// removeAll removes every node of a deleted group, then the group's
// directory and cgroup.
func (g *group) removeAll(ctx context.Context, log *slog.Logger) error {
	have, err := g.have()
	if err != nil {
		return err
	}
	for _, name := range have {
		if err := g.remove(ctx, name); err != nil {
			return err
		}
		log.Info("removed node", "node", name)
	}
	if isKubelet(g.ng) {
		if err := g.revokeToken(ctx); err != nil {
			return err
		}
		if err := g.releaseNetwork(ctx); err != nil {
			return err
		}
	}
	if err := removeDir(g.dir); err != nil {
		return err
	}
	if iso := g.r.Layout.Isolation; iso != nil && iso.Cgroups != nil {
		cg := iso.Cgroups.Group(tenant.CgroupName(g.r.Layout.Cell, g.c) + ".nodes")
		_ = cg.Remove() // other groups of the cluster may still run in it
	}
	return nil
}

// readiness lists the wanted nodes whose Node is Ready.
func (g *group) readiness(ctx context.Context) ([]string, error) {
	nodes, err := g.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: LabelNodeGroupID + "=" + g.ng.Name})
	if err != nil {
		return nil, fmt.Errorf("listing nodes: %w", err)
	}
	wanted := g.wantNames()
	var out []string
	for _, n := range nodes.Items {
		if slices.Contains(wanted, n.Name) && nodeReady(&n) {
			out = append(out, n.Name)
		}
	}
	slices.Sort(out)
	return out, nil
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

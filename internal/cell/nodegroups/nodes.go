package nodegroups

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Annotations on a Node that name what the cell set on it, so a label or
// taint removed from the group comes off its nodes while the tenant's own
// stay.
const (
	annotationManagedLabels = "cellplane.io/nodegroup-labels"
	annotationManagedTaints = "cellplane.io/nodegroup-taints"
)

// syncNodes patches the labels and taints of the group's running Nodes to
// its spec: a kubelet sets them only when it registers.
func (g *group) syncNodes(ctx context.Context) error {
	nodes, err := g.kube.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: LabelNodeGroupID + "=" + g.ng.Name})
	if err != nil {
		return fmt.Errorf("listing nodes: %w", err)
	}
	for i := range nodes.Items {
		n := &nodes.Items[i]
		patch, ok := metaPatch(n, registration(g.ng, n.Labels[LabelZone]))
		if !ok {
			continue
		}
		if _, err := g.kube.CoreV1().Nodes().Patch(ctx, n.Name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
			return fmt.Errorf("updating labels and taints of node %s: %w", n.Name, err)
		}
	}
	return nil
}

// metaPatch is the merge patch that gives n the registration's labels and
// taints, and whether one is needed.
func metaPatch(n *corev1.Node, reg Registration) ([]byte, bool) {
	oldLabels := splitList(n.Annotations[annotationManagedLabels])
	labels := map[string]any{}
	for _, k := range oldLabels {
		if _, keep := reg.Labels[k]; !keep {
			if _, has := n.Labels[k]; has {
				labels[k] = nil
			}
		}
	}
	for k, v := range reg.Labels {
		if n.Labels[k] != v {
			labels[k] = v
		}
	}
	wantTaints := parseTaints(reg.Taints)
	oldTaints := splitList(n.Annotations[annotationManagedTaints])
	taints := slices.DeleteFunc(slices.Clone(n.Spec.Taints), func(t corev1.Taint) bool {
		return slices.Contains(oldTaints, taintID(t)) || slices.ContainsFunc(wantTaints, func(w corev1.Taint) bool { return taintID(w) == taintID(t) })
	})
	taints = append(taints, wantTaints...)
	labelKeys := slices.Sorted(maps.Keys(reg.Labels))
	taintIDs := make([]string, len(wantTaints))
	for i, t := range wantTaints {
		taintIDs[i] = taintID(t)
	}
	annotations := map[string]string{annotationManagedLabels: strings.Join(labelKeys, ","), annotationManagedTaints: strings.Join(taintIDs, ",")}
	same := len(labels) == 0 && taintsEqual(n.Spec.Taints, taints) &&
		n.Annotations[annotationManagedLabels] == annotations[annotationManagedLabels] && n.Annotations[annotationManagedTaints] == annotations[annotationManagedTaints]
	if same {
		return nil, false
	}
	b, _ := json.Marshal(map[string]any{
		"metadata": map[string]any{"labels": labels, "annotations": annotations},
		"spec":     map[string]any{"taints": taints},
	})
	return b, true
}

func taintID(t corev1.Taint) string { return t.Key + ":" + string(t.Effect) }

func taintsEqual(a, b []corev1.Taint) bool {
	return slices.EqualFunc(a, b, func(x, y corev1.Taint) bool { return x.Key == y.Key && x.Value == y.Value && x.Effect == y.Effect })
}

// parseTaints reads <key>=<value>:<Effect> taints.
func parseTaints(in []string) []corev1.Taint {
	out := make([]corev1.Taint, 0, len(in))
	for _, s := range in {
		kv, effect, _ := strings.Cut(s, ":")
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, corev1.Taint{Key: k, Value: v, Effect: corev1.TaintEffect(effect)})
	}
	return out
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

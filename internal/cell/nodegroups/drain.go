package nodegroups

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
)

// errDraining says a node still has pods: evictions were refused (a
// PodDisruptionBudget allows none now) or the evicted pods are still
// terminating. The caller tries again later; the node stays cordoned.
var errDraining = errors.New("node is still draining")

// cordon marks a node unschedulable.
func cordon(ctx context.Context, k kubernetes.Interface, name string) error {
	patch := []byte(`{"spec":{"unschedulable":true}}`)
	_, err := k.CoreV1().Nodes().Patch(ctx, name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cordoning node %s: %w", name, err)
	}
	return nil
}

// drain evicts the node's pods through the eviction API, which honours
// PodDisruptionBudgets, and reports errDraining while any remain. Pods of
// DaemonSets and mirror pods stay: they belong to the node.
func drain(ctx context.Context, k kubernetes.Interface, name string) (refused int, err error) {
	pods, err := k.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: "spec.nodeName=" + name})
	if err != nil {
		return 0, fmt.Errorf("listing pods of node %s: %w", name, err)
	}
	left := 0
	for i := range pods.Items {
		p := &pods.Items[i]
		if !evictable(p) {
			continue
		}
		left++
		if p.DeletionTimestamp != nil {
			continue
		}
		ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}}
		err := k.PolicyV1().Evictions(p.Namespace).Evict(ctx, ev)
		switch {
		case err == nil, apierrors.IsNotFound(err):
		case apierrors.IsTooManyRequests(err):
			refused++
		default:
			return refused, fmt.Errorf("evicting pod %s/%s from node %s: %w", p.Namespace, p.Name, name, err)
		}
	}
	if left > 0 {
		return refused, fmt.Errorf("%w: %d pods left on %s, %d evictions refused by disruption budgets", errDraining, left, name, refused)
	}
	return 0, nil
}

// evictable reports whether draining moves p.
func evictable(p *corev1.Pod) bool {
	if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return false
	}
	if _, mirror := p.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
		return false
	}
	for _, o := range p.OwnerReferences {
		if o.Kind == "DaemonSet" {
			return false
		}
	}
	return true
}

package addons

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/addoncatalog"
	"github.com/cellplane/cellplane/internal/eks"
)

// insufficient is EKS's message for a workload short of replicas.
const insufficient = "The add-on is unhealthy because it doesn't have the desired number of replicas."

// Health reports the add-on's workload short of available replicas, as EKS
// does: CoreDNS's Deployment, kube-proxy's DaemonSet (which wants none, and
// is so unhealthy, while the cluster has no nodes).
func Health(ctx context.Context, dyn dynamic.Interface, addon string) ([]v1alpha1.AddonIssue, error) {
	kind, name := "Deployment", "coredns"
	if addon == addoncatalog.KubeProxy {
		kind, name = "DaemonSet", "kube-proxy"
	}
	o := &unstructured.Unstructured{}
	o.SetKind(kind)
	o.SetNamespace(Namespace)
	o.SetName(name)
	ri, err := resourceOf(dyn, o)
	if err != nil {
		return nil, err
	}
	got, err := ri.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ID(o), err)
	}
	want, have := replicas(got)
	if want > 0 && have >= want {
		return nil, nil
	}
	msg := insufficient
	if want == 0 {
		msg += " The cluster has no nodes to run it on."
	}
	return []v1alpha1.AddonIssue{{Code: eks.AddonIssueInsufficientNumberOfReplicas, Message: msg, ResourceIDs: []string{ID(o)}}}, nil
}

// replicas is a workload's wanted and available replicas. A Deployment
// status written before the current spec was seen does not count.
func replicas(o *unstructured.Unstructured) (want, have int64) {
	if gen, _, _ := unstructured.NestedInt64(o.Object, "status", "observedGeneration"); gen < o.GetGeneration() {
		return 1, 0
	}
	if o.GetKind() == "DaemonSet" {
		want, _, _ = unstructured.NestedInt64(o.Object, "status", "desiredNumberScheduled")
		have, _, _ = unstructured.NestedInt64(o.Object, "status", "numberAvailable")
		return want, have
	}
	want, _, _ = unstructured.NestedInt64(o.Object, "spec", "replicas")
	have, _, _ = unstructured.NestedInt64(o.Object, "status", "availableReplicas")
	return want, have
}

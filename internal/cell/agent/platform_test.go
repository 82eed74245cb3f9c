package agent

import (
	"context"
	"reflect"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// A registered platform version a cluster names reaches the cell's store
// with the cluster; a built-in one needs no copy.
func TestAgentCopiesRegisteredPlatformVersion(t *testing.T) {
	f := newAgent(t, regionEnv(t).Client(t), false)
	pv := &v1alpha1.PlatformVersion{ObjectMeta: metav1.ObjectMeta{Name: "cellplane.41"}, Spec: v1alpha1.PlatformVersionSpec{
		Minors: []string{"1.35"}, Args: []v1alpha1.ComponentArgs{{Component: "kube-apiserver", Args: []string{"--max-requests-inflight=800"}}}}}
	regionEnv(t).Create(t, pv)
	cellEnv(t).DeleteOnCleanup(t, pv)
	reg := f.inRegion(t, f.regionCluster(func(c *v1alpha1.Cluster) { c.Spec.PlatformVersion = "cellplane.41" }))
	reconcileAgent(t, f.a, reg)
	got := &v1alpha1.PlatformVersion{}
	if err := f.cell.Get(context.Background(), client.ObjectKey{Name: pv.Name}, got); err != nil {
		t.Fatalf("platform version not copied into the cell: %v", err)
	}
	if !reflect.DeepEqual(got.Spec, pv.Spec) {
		t.Errorf("cell copy %+v, want %+v", got.Spec, pv.Spec)
	}
	if c := get(t, f.cell, reg); c.Spec.PlatformVersion != "cellplane.41" {
		t.Errorf("cell's cluster names %q", c.Spec.PlatformVersion)
	}

	builtin := f.inRegion(t, f.regionCluster(func(c *v1alpha1.Cluster) { c.Name = "other"; c.Spec.PlatformVersion = "cellplane.2" }))
	reconcileAgent(t, f.a, builtin)
	err := f.cell.Get(context.Background(), client.ObjectKey{Name: "cellplane.2"}, &v1alpha1.PlatformVersion{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("a built-in version was copied: %v", err)
	}
}

package agent

import (
	"context"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/platform"
)

// pullPlatformVersion copies the registered platform version a cluster names
// into the cell's store before the cluster's spec, so the cell resolves it
// from its own store, and keeps doing so while the region is down. Built-in
// versions need no copy. A version missing from the region is left to the
// cell to report: the copy of the spec goes ahead.
func (a *Agent) pullPlatformVersion(ctx context.Context, name string) error {
	if platform.IsBuiltin(name) {
		return nil
	}
	src := &v1alpha1.PlatformVersion{}
	if err := a.Region.GetClient().Get(ctx, client.ObjectKey{Name: name}, src); err != nil {
		return client.IgnoreNotFound(err)
	}
	dst := &v1alpha1.PlatformVersion{ObjectMeta: metav1.ObjectMeta{Name: name}}
	_, err := controllerutil.CreateOrPatch(ctx, a.Cell, dst, func() error {
		dst.Spec = src.Spec
		return nil
	})
	if err != nil {
		return fmt.Errorf("copying platform version %s into cell: %w", name, err)
	}
	return nil
}

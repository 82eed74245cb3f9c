package api

import (
	"context"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// TestWritesRetryConflicts: the cell agent patches a cluster's status all the
// time, so the first write of a read-modify-write often conflicts. Each operation
// must re-read and succeed, not hand the conflict to the caller.
func TestWritesRetryConflicts(t *testing.T) {
	for _, tc := range []struct {
		name, method string
		path         func(h *harness) string // the ARN names the harness's account
		body         any
	}{
		{"update config", "POST", func(*harness) string { return "/clusters/demo/update-config" }, map[string]any{"resourcesVpcConfig": map[string]any{"endpointPrivateAccess": true}}},
		{"tag", "POST", func(h *harness) string { return "/tags/arn:cellplane:eks:local:" + h.account + ":cluster/demo" }, map[string]any{"tags": map[string]string{"k": "v"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var conflicts atomic.Int32
			h := newHarness(t, withInterceptor(interceptor.Funcs{
				Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
					if _, ok := obj.(*v1alpha1.Cluster); ok && conflicts.Add(1) == 1 {
						return apierrors.NewConflict(schema.GroupResource{Group: "cellplane.io", Resource: "clusters"}, obj.GetName(), nil)
					}
					return c.Update(ctx, obj, opts...)
				},
			}))
			h.activeCluster("demo")
			if r := h.do(tc.method, tc.path(h), tc.body); r.status != 200 {
				t.Fatalf("status %d after one conflict: %s", r.status, r.body)
			}
			if conflicts.Load() < 2 {
				t.Fatalf("the conflicting write was not retried (%d writes)", conflicts.Load())
			}
		})
	}
}

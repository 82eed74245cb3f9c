package operator

import (
	"context"
	"errors"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// An on-demand full is asked of an ACTIVE cluster's cell through an
// annotation holding the time of the request; the cell takes the full once
// it sees a request after its last one.
func TestRequestBackup(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		cluster *demoCluster
		want    error
	}{
		{name: "active", cluster: &demoCluster{status: v1alpha1.StatusActive}},
		{name: "creating", cluster: &demoCluster{status: v1alpha1.StatusCreating}, want: errdefs.ErrInvalidRequest},
		{name: "no cluster", want: errdefs.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRestoreFixture(t)
			if tc.cluster != nil {
				tc.cluster.store(t, f)
			}
			before := time.Now().UTC()
			at, err := f.b.Request(ctx, f.account, "demo")
			if tc.want != nil {
				if !errors.Is(err, tc.want) {
					t.Fatalf("Request = %v, want %v", err, tc.want)
				}
				return
			}
			if err != nil || at.Before(before) {
				t.Fatalf("Request = %v, %v; want about now", at, err)
			}
			c := &v1alpha1.Cluster{}
			key := types.NamespacedName{Namespace: v1alpha1.Namespace(f.account), Name: v1alpha1.ObjectName("demo")}
			if err := env.Client(t).Get(ctx, key, c); err != nil {
				t.Fatal(err)
			}
			got, err := time.Parse(time.RFC3339Nano, c.Annotations[v1alpha1.AnnotationBackupRequested])
			if err != nil || !got.Equal(at) {
				t.Errorf("annotation says %v (%v), want the request's time %v", got, err, at)
			}
			if st, err := f.b.Status(ctx, f.account, "demo"); err != nil || st == nil || st.Set != "uid-now" {
				t.Errorf("Status = %+v, %v; want the cell's report", st, err)
			}
		})
	}
}

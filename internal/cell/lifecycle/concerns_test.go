package lifecycle

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/cell/restore"
	"github.com/cellplane/cellplane/internal/cell/tenant"
)

// A concern's terminal error fails the cluster like one of the lifecycle's
// own: a cluster created from backups that do not exist fails at once, with
// the reason, and no process starts.
func TestReconcileRestoreWithoutBackupsFails(t *testing.T) {
	c := create(t, testCluster(t, func(c *v1alpha1.Cluster) {
		c.Spec.RestoreFrom = &v1alpha1.RestoreSource{Cluster: "src"}
	}))
	r, runner, _ := newReconciler(t)
	dir := t.TempDir()
	st := backup.Storage{Dir: filepath.Join(dir, "backups")}
	store, err := st.Open()
	if err != nil {
		t.Fatal(err)
	}
	kms, err := envelope.NewLocalKMS(filepath.Join(dir, "kek"))
	if err != nil {
		t.Fatal(err)
	}
	r.Concerns = []tenant.Concern{&restore.FromBackup{Backups: &restore.Backups{Storage: st, Store: store, KMS: kms}, Logger: discard}}
	if _, err := r.Reconcile(context.Background(), request(c)); err != nil {
		t.Fatalf("Reconcile: %v; want no retry", err)
	}
	if ensured, _ := runner.calls(); len(ensured) != 0 {
		t.Errorf("%d processes started for a cluster that cannot be restored", len(ensured))
	}
	stored := get(t, r.Client, c)
	if stored.Status.Status != v1alpha1.StatusFailed || !strings.Contains(stored.Status.Reason, "no backup of cluster src in ") {
		t.Errorf("status = %s %q; want FAILED naming the missing backups", stored.Status.Status, stored.Status.Reason)
	}
	// What the concern set is patched with the rest of the pass.
	if rs := stored.Status.Restore; rs == nil || rs.Phase != v1alpha1.RestorePhaseFailed || rs.Reason != v1alpha1.RestoreReasonCreated {
		t.Errorf("status.restore = %+v, want the creation's restore Failed", rs)
	}
}

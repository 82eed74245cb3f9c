package cli

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestBackupRestoreUsage(t *testing.T) {
	// Checked before anything is read or requested: the data directory stays
	// empty, and nothing running is needed.
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"demo"}, "every write after the restored revision is lost. Run again with --yes"},
		{[]string{"demo", "--revision", "5"}, "--yes"},
		{[]string{"demo", "--yes", "--revision", "-1"}, "--revision must be 0"},
		{[]string{"demo", "--yes", "-o", "yaml"}, "--output must be table or json"},
		{[]string{"--yes"}, "needs exactly one cluster name, got 0"},
		{[]string{"a", "b", "--yes"}, "got 2"},
	} {
		dir := t.TempDir()
		_, _, err := cli{t, dir}.run(append([]string{"backup", "restore"}, tc.args...)...)
		if err == nil || clikit.ExitCode(err) != 2 || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%q = %v (exit %d), want a usage error saying %q", tc.args, err, clikit.ExitCode(err), tc.msg)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("%q left %d entries in the data directory", tc.args, len(entries))
		}
	}
}

func TestBackupRestoreNotRunning(t *testing.T) {
	_, _, err := cli{t, t.TempDir()}.run("backup", "restore", "demo", "--yes")
	if !errors.Is(err, errdefs.ErrNotRunning) {
		t.Fatalf("restore without cellplane = %v, want errdefs.ErrNotRunning", err)
	}
}

func TestRestoreStep(t *testing.T) {
	for _, tc := range []struct {
		st   v1alpha1.RestoreStatus
		want string
	}{
		{v1alpha1.RestoreStatus{Phase: v1alpha1.RestorePhaseRestoring}, "Restoring"},
		{v1alpha1.RestoreStatus{Phase: v1alpha1.RestorePhaseRestoring, FullRevision: 100}, "Restoring: the full at revision 100"},
		{v1alpha1.RestoreStatus{Phase: v1alpha1.RestorePhaseReplaying, FullRevision: 100, Revision: 150}, "Replaying: incrementals to revision 150"},
		{v1alpha1.RestoreStatus{Phase: v1alpha1.RestorePhaseFailed, Message: "no quorum"}, "Failed: no quorum"},
	} {
		if got := restoreStep(&tc.st); got != tc.want {
			t.Errorf("restoreStep(%+v) = %q, want %q", tc.st, got, tc.want)
		}
	}
}

func TestRestoreResult(t *testing.T) {
	var out strings.Builder
	g := &globals{clikit.Globals{Output: "table", Stdout: &out}}
	done := &v1alpha1.RestoreStatus{Phase: v1alpha1.RestorePhaseDone, Set: "uid-1", FullRevision: 100, Revision: 150}
	if err := g.restoreResult("demo", done, 0); err != nil || !strings.Contains(out.String(), "cluster demo restored to revision 150 (full at revision 100, set uid-1)") {
		t.Fatalf("Done: %v, printed %q", err, out.String())
	}
	failed := &v1alpha1.RestoreStatus{Phase: v1alpha1.RestorePhaseFailed, Message: "full at revision 100 is corrupt"}
	err := g.restoreResult("demo", failed, 0)
	if err == nil || clikit.ExitCode(err) != 1 || !strings.Contains(err.Error(), "restore of cluster demo failed: full at revision 100 is corrupt") {
		t.Fatalf("Failed: %v", err)
	}
	out.Reset()
	g.Output = "json"
	if err := g.restoreResult("demo", failed, 0); err == nil || !strings.Contains(out.String(), `"phase": "Failed"`) {
		t.Fatalf("Failed with -o json: %v, printed %q", err, out.String())
	}
}

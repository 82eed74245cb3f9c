package etcdstate

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
)

func TestBootstrapped(t *testing.T) {
	p := testPlan(t)
	r := For(p)
	if r.Bootstrapped() || !r.BootstrappedAt().IsZero() {
		t.Fatalf("a new cluster is bootstrapped (at %v)", r.BootstrappedAt())
	}
	must(t, r.MarkBootstrapped())
	at := r.BootstrappedAt()
	if !r.Bootstrapped() || at.IsZero() {
		t.Fatal("the bootstrapped record was not written")
	}
	// Marked once: a later pass does not move the time etcd formed.
	old := at.Add(-time.Hour)
	must(t, os.Chtimes(filepath.Join(p.Dir(), "etcd-state", "bootstrapped"), old, old))
	must(t, r.MarkBootstrapped())
	if got := r.BootstrappedAt(); !got.Equal(old) {
		t.Errorf("BootstrappedAt after a second mark = %v, want it kept at %v", got, old)
	}
	if !ForDir(p.Dir()).Bootstrapped() {
		t.Error("ForDir of the cluster's directory does not read the plan's records")
	}
}

func TestJoinRoundTrip(t *testing.T) {
	r := For(testPlan(t))
	if _, ok, err := r.Join("etcd-b"); ok || err != nil {
		t.Fatalf("Join without a record = %v, %v; want none and no error", ok, err)
	}
	started := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	j := Join{ID: 0xfeed, StartedAt: started}
	must(t, r.SaveJoin("etcd-b", j))
	must(t, r.SaveJoin("etcd-a", Join{ID: 0xa11}))
	if got, ok, err := r.Join("etcd-b"); !ok || err != nil || got != j {
		t.Fatalf("Join = %+v, %v, %v; want %+v", got, ok, err, j)
	}
	j.Promoted, j.PromotedAt = true, started.Add(time.Minute)
	must(t, r.SaveJoin("etcd-b", j))
	if got, _, _ := r.Join("etcd-b"); got != j {
		t.Fatalf("Join after promotion = %+v, want %+v", got, j)
	}
	if got := r.Joined(); !slices.Equal(got, []string{"etcd-a", "etcd-b"}) {
		t.Errorf("Joined = %v, want both members, sorted", got)
	}
	if got := Joined(r.dir); !slices.Equal(got, r.Joined()) {
		t.Errorf("Joined(dir) = %v, want %v", got, r.Joined())
	}
	must(t, r.ClearJoin("etcd-a"))
	must(t, r.ClearJoin("etcd-a")) // gone already: no error
	if got := r.Joined(); !slices.Equal(got, []string{"etcd-b"}) {
		t.Errorf("Joined after a clear = %v, want [etcd-b]", got)
	}
}

// A record written before StartedAt and PromotedAt existed still reads.
func TestJoinOldRecord(t *testing.T) {
	r := For(testPlan(t))
	must(t, os.MkdirAll(r.path(stateDir), 0o700))
	must(t, os.WriteFile(r.path(stateDir, "etcd-c.join"), []byte(`{"id":42,"promoted":true}`), 0o600))
	if j, ok, err := r.Join("etcd-c"); !ok || err != nil || j != (Join{ID: 42, Promoted: true}) {
		t.Fatalf("Join of an old record = %+v, %v, %v", j, ok, err)
	}
}

func TestCorruptRecordsAreErrors(t *testing.T) {
	r := For(testPlan(t))
	for _, rec := range [][2]string{{stateDir, "etcd-a.join"}, {restoreDir, restoreJobFile}, {inPlaceDir, inPlaceJobFile}} {
		must(t, os.MkdirAll(r.path(rec[0]), 0o700))
		must(t, os.WriteFile(r.path(rec[0], rec[1]), []byte("{"), 0o600))
	}
	if _, ok, err := r.Join("etcd-a"); ok || err == nil || !strings.Contains(err.Error(), "etcd-a") {
		t.Errorf("Join of a corrupt record = %v, %v; want an error naming the member", ok, err)
	}
	if _, ok, err := r.Restore(); ok || err == nil {
		t.Errorf("Restore of a corrupt record = %v, %v", ok, err)
	}
	if _, ok, err := r.InPlace(); ok || err == nil {
		t.Errorf("InPlace of a corrupt record = %v, %v", ok, err)
	}
}

func testBackupPlan() backup.Plan {
	return backup.Plan{Full: backup.Entry{Revision: 10, Size: 100}, Revision: 14,
		Incrementals: []backup.Entry{{First: 11, Revision: 12}, {First: 13, Revision: 15}}}
}

func TestRestoreRoundTrip(t *testing.T) {
	r := For(testPlan(t))
	if _, ok, err := r.Restore(); ok || err != nil {
		t.Fatalf("Restore without a job = %v, %v", ok, err)
	}
	job := RestoreJob{Source: "src", Prefix: "clusters/acct-1/src/u1/", Plan: testBackupPlan(),
		StartedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	must(t, r.SaveRestore(job))
	got, ok, err := r.Restore()
	if !ok || err != nil || got.Source != job.Source || got.Prefix != job.Prefix || !got.StartedAt.Equal(job.StartedAt) ||
		got.Plan.Revision != 14 || len(got.Plan.Incrementals) != 2 || got.Plan.Full.Revision != 10 {
		t.Fatalf("Restore = %+v, %v, %v; want %+v", got, ok, err, job)
	}
	if s := got.String(); !strings.Contains(s, "src") || !strings.Contains(s, "14") {
		t.Errorf("job reads %q, want the source and the revision", s)
	}
	scratch, err := r.RestoreScratch()
	if err != nil || !strings.HasPrefix(scratch, r.dir) {
		t.Fatalf("RestoreScratch = %q, %v", scratch, err)
	}
	// Each step is recorded before the next.
	if r.Restored() || r.Replayed() {
		t.Fatal("a new job is restored or replayed")
	}
	must(t, r.MarkRestored())
	if !r.Restored() || r.Replayed() {
		t.Fatal("after MarkRestored: want restored, not replayed")
	}
	must(t, r.MarkReplayed())
	if !r.Replayed() {
		t.Fatal("MarkReplayed did not record it")
	}
}

func TestInPlaceRoundTrip(t *testing.T) {
	r := For(testPlan(t))
	if r.InPlaceRunning() || r.InPlaceRestored() || r.InPlaceDone() {
		t.Fatal("a cluster without a job has an in-place restore")
	}
	job := InPlaceJob{RequestID: "2026-03-01T12:00:00.5Z", Reason: v1alpha1.RestoreReasonRequested, Set: "u1",
		Prefix: "clusters/acct-1/demo/u1/", Plan: testBackupPlan(), StartedAt: time.Date(2026, 3, 1, 12, 0, 1, 0, time.UTC)}
	must(t, r.SaveInPlace(job))
	got, ok, err := r.InPlace()
	if !ok || err != nil || got.RequestID != job.RequestID || got.Reason != job.Reason || got.Set != job.Set ||
		got.Prefix != job.Prefix || !got.StartedAt.Equal(job.StartedAt) || got.Plan.Revision != 14 {
		t.Fatalf("InPlace = %+v, %v, %v; want %+v", got, ok, err, job)
	}
	for _, step := range []struct {
		mark                      func() error
		running, restored, isDone bool
	}{
		{nil, true, false, false},
		{r.MarkInPlaceRestored, true, true, false},
		{r.MarkInPlaceDone, false, true, true},
	} {
		if step.mark != nil {
			must(t, step.mark())
		}
		if r.InPlaceRunning() != step.running || r.InPlaceRestored() != step.restored || r.InPlaceDone() != step.isDone {
			t.Fatalf("running %v, restored %v, done %v; want %v, %v, %v", r.InPlaceRunning(), r.InPlaceRestored(),
				r.InPlaceDone(), step.running, step.restored, step.isDone)
		}
	}
	if !strings.HasPrefix(r.InPlaceScratch(), r.dir) {
		t.Errorf("InPlaceScratch %s is outside the cluster's directory", r.InPlaceScratch())
	}
	must(t, r.ClearInPlace())
	if _, ok, _ := r.InPlace(); ok || r.InPlaceDone() {
		t.Fatal("ClearInPlace left the job behind")
	}
}

func TestInPlaceJobStatus(t *testing.T) {
	job := InPlaceJob{RequestID: "r1", Reason: v1alpha1.RestoreReasonQuorumLost, Set: "u1", Plan: testBackupPlan(),
		StartedAt: time.Date(2026, 3, 1, 12, 0, 1, 500, time.UTC)}
	st := job.Status(v1alpha1.RestorePhaseRestoring)
	if st.RequestID != "r1" || st.Reason != v1alpha1.RestoreReasonQuorumLost || st.Phase != v1alpha1.RestorePhaseRestoring ||
		st.Set != "u1" || st.FullRevision != 10 || st.Revision != 14 || st.Message != "" || st.FinishedAt != nil {
		t.Fatalf("Status = %+v", st)
	}
	// In whole seconds, as the store keeps it.
	if st.StartedAt == nil || !st.StartedAt.Time.Equal(job.StartedAt.Truncate(time.Second)) {
		t.Errorf("startedAt = %v, want %v", st.StartedAt, job.StartedAt.Truncate(time.Second))
	}
}

// A record is replaced whole or not at all: no temporary file is left beside
// it, and a reader never sees half of one.
func TestWriteFileSync(t *testing.T) {
	dir := t.TempDir()
	must(t, WriteFileSync(dir, "rec", []byte("one")))
	must(t, WriteFileSync(dir, "rec", []byte("two")))
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 1 || entries[0].Name() != "rec" {
		t.Fatalf("directory holds %v, %v; want the record alone", entries, err)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "rec")); string(data) != "two" {
		t.Errorf("record holds %q, want the second write", data)
	}
	if err := WriteFileSync(filepath.Join(dir, "missing"), "rec", nil); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}

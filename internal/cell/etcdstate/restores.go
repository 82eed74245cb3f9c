package etcdstate

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
)

// RestoreJob is what a restore into a new cluster restores, decided once so
// that every later step uses the same backups even while the source keeps
// backing up.
type RestoreJob struct {
	Source string      `json:"source"` // the source cluster's name
	Prefix string      `json:"prefix"` // the backup set's prefix in the store
	Plan   backup.Plan `json:"plan"`
	// StartedAt is when the job was decided; zero in records written before
	// it existed.
	StartedAt time.Time `json:"startedAt,omitzero"`
}

func (j RestoreJob) String() string {
	return fmt.Sprintf("backup of cluster %s at revision %d", j.Source, j.Plan.Revision)
}

// Restore returns the restore job of a new cluster; ok is false when there is none.
func (r Records) Restore() (j RestoreJob, ok bool, err error) {
	ok, err = r.readJSON(&j, restoreDir, restoreJobFile)
	if err != nil {
		return j, false, fmt.Errorf("reading the restore job: %w", err)
	}
	return j, ok, nil
}

// SaveRestore records the restore job.
func (r Records) SaveRestore(j RestoreJob) error {
	if err := r.writeJSON(j, restoreDir, restoreJobFile); err != nil {
		return fmt.Errorf("saving the restore job: %w", err)
	}
	return nil
}

// RestoreScratch is a directory for the restore's temporary files.
func (r Records) RestoreScratch() (string, error) {
	dir := r.path(restoreDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating restore directory: %w", err)
	}
	return dir, nil
}

// Restored reports whether the restore's full is in the members' data.
func (r Records) Restored() bool { return r.exists(restoreDir, restoredMarker) }

// MarkRestored records that the full is restored.
func (r Records) MarkRestored() error { return r.markStep(restoreDir, restoredMarker) }

// Replayed reports whether the restore's incrementals are replayed.
func (r Records) Replayed() bool { return r.exists(restoreDir, replayedMarker) }

// MarkReplayed records that the incrementals are replayed: the restore is done.
func (r Records) MarkReplayed() error { return r.markStep(restoreDir, replayedMarker) }

func (r Records) markStep(dir, name string) error {
	if err := r.mark(dir, name); err != nil {
		return fmt.Errorf("recording the restore: %w", err)
	}
	return nil
}

// InPlaceJob is what an in-place restore restores, decided once.
type InPlaceJob struct {
	RequestID string      `json:"requestID,omitempty"`
	Reason    string      `json:"reason"`
	Set       string      `json:"set"`
	Prefix    string      `json:"prefix"`
	Plan      backup.Plan `json:"plan"`
	StartedAt time.Time   `json:"startedAt"`
}

// Status is the job's status.restore in phase, before any message.
func (j InPlaceJob) Status(phase string) *v1alpha1.RestoreStatus {
	started := j.StartedAt
	return &v1alpha1.RestoreStatus{RequestID: j.RequestID, Reason: j.Reason, Phase: phase, Set: j.Set,
		FullRevision: j.Plan.Full.Revision, Revision: j.Plan.Revision, StartedAt: metaTime(started)}
}

// InPlace returns the in-place restore job; ok is false when there is none.
func (r Records) InPlace() (j InPlaceJob, ok bool, err error) {
	ok, err = r.readJSON(&j, inPlaceDir, inPlaceJobFile)
	if err != nil {
		return j, false, fmt.Errorf("reading the in-place restore job: %w", err)
	}
	return j, ok, nil
}

// SaveInPlace records an in-place restore: from now on the cluster's
// processes stay stopped until it is done.
func (r Records) SaveInPlace(j InPlaceJob) error {
	if err := r.writeJSON(j, inPlaceDir, inPlaceJobFile); err != nil {
		return fmt.Errorf("saving the in-place restore job: %w", err)
	}
	return nil
}

// InPlaceRunning reports whether an in-place restore holds the cluster's
// processes stopped.
func (r Records) InPlaceRunning() bool {
	return r.exists(inPlaceDir, inPlaceJobFile) && !r.InPlaceDone()
}

// InPlaceRestored reports whether the in-place restore's full is in the members' data.
func (r Records) InPlaceRestored() bool { return r.exists(inPlaceDir, restoredMarker) }

// MarkInPlaceRestored records that the full is restored: etcd may start.
func (r Records) MarkInPlaceRestored() error { return r.markStep(inPlaceDir, restoredMarker) }

// InPlaceDone reports whether the in-place restore's incrementals are replayed.
func (r Records) InPlaceDone() bool { return r.exists(inPlaceDir, inPlaceDoneFile) }

// MarkInPlaceDone records that the restore is done: everything may start.
func (r Records) MarkInPlaceDone() error { return r.markStep(inPlaceDir, inPlaceDoneFile) }

// ClearInPlace removes a finished in-place restore's records, once the store
// shows it done.
func (r Records) ClearInPlace() error {
	if err := os.RemoveAll(r.path(inPlaceDir)); err != nil {
		return fmt.Errorf("removing the finished in-place restore: %w", err)
	}
	return nil
}

// InPlaceScratch is a directory for the in-place restore's temporary files.
func (r Records) InPlaceScratch() string { return filepath.Join(r.dir, inPlaceDir) }

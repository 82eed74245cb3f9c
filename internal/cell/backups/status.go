package backups

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
)

// backupStatus is a worker's view of status.backup and what it last sent.
type backupStatus struct {
	mu        sync.Mutex
	cur, sent v1alpha1.BackupStatus
	flushed   int64 // the newest revision stored
	lastPatch time.Time
	patchMu   sync.Mutex // one patch at a time, from the tail or the watchdog
}

func (s *backupStatus) update(f func(*v1alpha1.BackupStatus)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.cur)
}

func (s *backupStatus) get() v1alpha1.BackupStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *s.cur.DeepCopy()
}

func setFull(b *v1alpha1.BackupStatus, e backup.Entry) {
	b.LastFullTime, b.LastFullRevision, b.LastFullBytes = metaTime(e.Created), e.Revision, e.Size
}

func metaTime(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}

// patchStatus sends status.backup with a merge patch that names no other field,
// so it never undoes what the cluster lifecycle patches meanwhile. Unless forced
// it sends at most once per StatusInterval.
func (w *worker) patchStatus(ctx context.Context, force bool) {
	s := &w.status
	s.patchMu.Lock()
	defer s.patchMu.Unlock()
	if !force && time.Since(s.lastPatch) < w.r.Config.StatusInterval {
		return
	}
	cur := s.get()
	if equality.Semantic.DeepEqual(cur, s.sent) {
		return
	}
	data, err := backupStatusPatch(cur)
	if err == nil {
		obj := &v1alpha1.Cluster{}
		obj.Namespace, obj.Name = w.key.Namespace, w.key.Name
		err = w.r.Client.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, data))
	}
	if err != nil {
		w.log.Warn("reporting backup status", "err", err)
		return
	}
	s.sent, s.lastPatch = cur, time.Now()
}

// backupStatusPatch is {"status":{"backup":...}}, with lastError null when
// empty: a merge patch leaves out fields it omits, and a cleared error must clear.
func backupStatusPatch(b v1alpha1.BackupStatus) ([]byte, error) {
	raw, err := json.Marshal(b)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	if b.LastError == "" {
		m["lastError"] = nil
	}
	return json.Marshal(map[string]any{"status": map[string]any{"backup": m}})
}

// revisionSample is the cluster's revision read linearizably at time t: every
// write acknowledged before t has a revision at or below rev. Once the backups
// cover rev, everything acknowledged before t is recoverable, which makes t a
// recovery point that never overstates, however the watch lags.
type revisionSample struct {
	t   time.Time
	rev int64
}

// maxRevisionSamples bounds the samples kept while the backups lag; dropping the
// oldest only makes the recovery point more conservative.
const maxRevisionSamples = 256

func (w *worker) sample(ctx context.Context) {
	t := time.Now()
	rev, err := w.src.Revision(ctx)
	if err != nil {
		return
	}
	w.samplesMu.Lock()
	defer w.samplesMu.Unlock()
	if len(w.samples) == maxRevisionSamples {
		w.samples = w.samples[1:]
	}
	w.samples = append(w.samples, revisionSample{t: t, rev: rev})
	w.advance()
}

// covered records that the backups now reach revision rev.
func (w *worker) covered(rev int64) {
	w.samplesMu.Lock()
	defer w.samplesMu.Unlock()
	w.status.flushed = max(w.status.flushed, rev)
	w.advance()
}

// advance moves the recovery point to the newest sample the backups cover.
// Callers hold samplesMu.
func (w *worker) advance() {
	var rp time.Time
	for len(w.samples) > 0 && w.samples[0].rev <= w.status.flushed {
		rp = w.samples[0].t
		w.samples = w.samples[1:]
	}
	if rp.IsZero() {
		return
	}
	w.status.update(func(b *v1alpha1.BackupStatus) {
		if b.RecoveryPointTime == nil || rp.After(b.RecoveryPointTime.Time) {
			b.RecoveryPointTime = metaTime(rp)
		}
	})
}

// observedBy is the recovery point a batch ending at rev gives: the newest
// sample it covers, else the current one.
func (w *worker) observedBy(rev int64) time.Time {
	w.samplesMu.Lock()
	var t time.Time
	for _, s := range w.samples {
		if s.rev <= rev {
			t = s.t
		}
	}
	w.samplesMu.Unlock()
	if t.IsZero() {
		if rp := w.status.get().RecoveryPointTime; rp != nil {
			t = rp.Time
		}
	}
	return t
}

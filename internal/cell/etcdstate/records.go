package etcdstate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/cellplane/cellplane/internal/controlplane"
)

// Records are one cluster's records, under its directory:
//
//	etcd-state/bootstrapped       the cluster's etcd formed once
//	etcd-state/<member>.join      a member added back as a learner
//	restore/restore.json          a restore into this new cluster: what it restores
//	restore/restored, replayed    ... and how far it got
//	restore-inplace/job.json      an in-place restore: what it restores
//	restore-inplace/restored, done ... and how far it got
type Records struct{ dir string }

// For returns the records of the control plane p describes.
func For(p *controlplane.Plan) Records { return Records{dir: p.Dir()} }

// ForDir returns the records of the cluster whose directory is clusterDir.
func ForDir(clusterDir string) Records { return Records{dir: clusterDir} }

const (
	stateDir        = "etcd-state"
	bootstrapped    = "bootstrapped"
	joinSuffix      = ".join"
	restoreDir      = "restore"
	restoreJobFile  = "restore.json"
	restoredMarker  = "restored"
	replayedMarker  = "replayed"
	inPlaceDir      = "restore-inplace"
	inPlaceJobFile  = "job.json"
	inPlaceDoneFile = "done"
)

func (r Records) path(parts ...string) string {
	return filepath.Join(append([]string{r.dir}, parts...)...)
}

func (r Records) exists(parts ...string) bool {
	_, err := os.Stat(r.path(parts...))
	return err == nil
}

// mark writes an empty marker, creating its directory.
func (r Records) mark(dir, name string) error {
	if err := os.MkdirAll(r.path(dir), 0o700); err != nil {
		return err
	}
	return WriteFileSync(r.path(dir), name, nil)
}

// readJSON reads the record at parts into v; ok is false when there is none.
func (r Records) readJSON(v any, parts ...string) (ok bool, err error) {
	data, err := os.ReadFile(r.path(parts...))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", r.path(parts...), err)
	}
	return true, nil
}

// writeJSON saves v as the record dir/name.
func (r Records) writeJSON(v any, dir, name string) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r.path(dir), 0o700); err != nil {
		return err
	}
	return WriteFileSync(r.path(dir), name, data)
}

// Bootstrapped reports whether the cluster's etcd formed once.
func (r Records) Bootstrapped() bool { return r.exists(stateDir, bootstrapped) }

// BootstrappedAt is when the cluster's etcd formed; zero if it has not.
func (r Records) BootstrappedAt() time.Time {
	fi, err := os.Stat(r.path(stateDir, bootstrapped))
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}

// MarkBootstrapped records, once, that the cluster's etcd formed.
func (r Records) MarkBootstrapped() error {
	if r.Bootstrapped() {
		return nil
	}
	if err := r.mark(stateDir, bootstrapped); err != nil {
		return fmt.Errorf("recording that etcd formed: %w", err)
	}
	return nil
}

// WriteFileSync writes data to dir/name atomically and durably: a record that
// survives a crash must mean the step it records is on disk.
func WriteFileSync(dir, name string, data []byte) error {
	tmp, err := os.CreateTemp(dir, "."+name+".tmp-")
	if err != nil {
		return err
	}
	// Once renamed, the temp name is gone and the Remove fails harmlessly;
	// before that, it removes what a failed write left.
	defer os.Remove(tmp.Name()) //nolint:errcheck // see above
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close() // the write's error is the one to report
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close() // the sync's error is the one to report
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close() //nolint:errcheck // a directory opened to sync it; the sync's error is the one that counts
	return d.Sync()
}

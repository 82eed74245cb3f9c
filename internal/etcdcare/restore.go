package etcdcare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"go.etcd.io/etcd/client/pkg/v3/fileutil"
	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// DefaultBumpRevision is how far a restore moves revisions past the snapshot's.
// Clients (informers, watch caches) may have seen revisions written after the
// snapshot; the restored cluster must start above all of them, or a client would
// see resource versions go backwards and trust stale caches. A billion exceeds the
// writes of any control plane between two snapshots (at a sustained 1,000
// writes/s it is 11 days), and int64 revisions leave room for billions of
// restores. --mark-compacted goes with it, so watchers holding old revisions get
// "compacted" and relist instead of waiting for revisions that will never come.
const DefaultBumpRevision = 1_000_000_000

// RestoreMember is one member to produce a data directory for.
type RestoreMember struct {
	Name    string // --name, e.g. "etcd-a"
	PeerURL string // --initial-advertise-peer-urls
	DataDir string // the member's data directory, replaced on success
}

// RestoreConfig says what to restore where.
type RestoreConfig struct {
	Etcdutl  string // path to the etcdutl binary
	Snapshot string // a file written from Snapshot
	// Token is --initial-cluster-token; with the peer URLs it fixes member and
	// cluster IDs, so a repeated restore produces the same identities.
	Token   string
	Members []RestoreMember
	// BumpRevision is added to the snapshot's revision. Default
	// DefaultBumpRevision; it should exceed the number of revisions written on the
	// source after the snapshot.
	BumpRevision int64
	Log          *slog.Logger
}

// Restore produces fresh data directories for every member from a snapshot with
// etcdutl, each in a temporary directory beside its target. Only when all of them
// succeeded does it swap each into place with one atomic rename, so a failed
// restore (a corrupt snapshot, a full disk) leaves every previous data directory
// untouched. The members must be stopped: a data directory in use returns
// ErrMemberRunning. A restore interrupted between swaps is completed by running it
// again, which produces identical directories.
func Restore(ctx context.Context, cfg RestoreConfig) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	log := logOrDiscard(cfg.Log)
	var temps []string
	defer func() {
		for _, t := range temps {
			_ = os.RemoveAll(t)
		}
	}()
	for _, m := range cfg.Members {
		tmp, err := cfg.restoreOne(ctx, m)
		if tmp != "" {
			temps = append(temps, tmp)
		}
		if err != nil {
			return err
		}
	}
	for i, m := range cfg.Members {
		if err := swapDir(temps[i], m.DataDir); err != nil {
			return fmt.Errorf("swapping in restored data for %s: %w", m.Name, err)
		}
		log.Info("restored etcd member data", "member", m.Name, "dataDir", m.DataDir)
	}
	return nil
}

func (cfg *RestoreConfig) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("restore: "+format+": %w", append(args, errdefs.ErrInvalidParameter)...)
	}
	if cfg.Etcdutl == "" || cfg.Snapshot == "" || cfg.Token == "" || len(cfg.Members) == 0 {
		return bad("etcdutl, snapshot, token and members are required")
	}
	if cfg.BumpRevision < 0 {
		return bad("negative bump revision %d", cfg.BumpRevision)
	}
	if cfg.BumpRevision == 0 {
		cfg.BumpRevision = DefaultBumpRevision
	}
	if _, err := os.Stat(cfg.Snapshot); err != nil {
		return bad("snapshot: %v", err)
	}
	seen := map[string]bool{}
	for _, m := range cfg.Members {
		if m.Name == "" || m.PeerURL == "" || m.DataDir == "" || seen[m.Name] || seen[m.DataDir] {
			return bad("member %q needs a unique name, a peer URL and a unique data directory", m.Name)
		}
		seen[m.Name], seen[m.DataDir] = true, true
		if err := notRunning(m.DataDir); err != nil {
			return fmt.Errorf("restore %s: %w", m.Name, err)
		}
	}
	return nil
}

func (cfg *RestoreConfig) initialCluster() string {
	var parts []string
	for _, m := range cfg.Members {
		parts = append(parts, m.Name+"="+m.PeerURL)
	}
	return strings.Join(parts, ",")
}

// restoreOne runs etcdutl into a new temporary directory beside the target (same
// file system, so the swap is a rename) and returns it.
func (cfg *RestoreConfig) restoreOne(ctx context.Context, m RestoreMember) (string, error) {
	parent, base := filepath.Dir(m.DataDir), filepath.Base(m.DataDir)
	if err := removeStale(parent, base); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".restore-")
	if err != nil {
		return "", fmt.Errorf("creating restore directory for %s: %w", m.Name, err)
	}
	//nolint:gosec // G204: runs the configured etcdutl, the pinned component's, on a snapshot this package fetched
	cmd := exec.CommandContext(ctx, cfg.Etcdutl, "snapshot", "restore", cfg.Snapshot,
		"--name", m.Name,
		"--initial-cluster", cfg.initialCluster(),
		"--initial-cluster-token", cfg.Token,
		"--initial-advertise-peer-urls", m.PeerURL,
		"--data-dir", tmp,
		"--bump-revision", strconv.FormatInt(cfg.BumpRevision, 10),
		"--mark-compacted",
	)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return tmp, fmt.Errorf("etcdutl snapshot restore for %s: %w: %s", m.Name, err, lastLines(out.String(), 5))
	}
	return tmp, nil
}

// removeStale deletes temporary directories an interrupted restore left behind.
func removeStale(parent, base string) error {
	stale, err := filepath.Glob(filepath.Join(parent, "."+base+".restore-*"))
	if err != nil {
		return err
	}
	for _, s := range stale {
		if err := os.RemoveAll(s); err != nil {
			return fmt.Errorf("removing stale restore directory: %w", err)
		}
	}
	return nil
}

// swapDir puts the restored directory tmp in place of dir. With RENAME_EXCHANGE
// the two trade places in one step and the old data ends at tmp, removed by the
// caller; there is never a moment without a data directory. File systems without
// the flag get two renames; a crash between them leaves the old data at
// dir.pre-restore and no dir, and running Restore again fills dir.
func swapDir(tmp, dir string) error {
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return os.Rename(tmp, dir)
	}
	err := unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, dir, unix.RENAME_EXCHANGE)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		return err
	}
	old := dir + ".pre-restore"
	if err := os.RemoveAll(old); err != nil {
		return err
	}
	if err := os.Rename(dir, old); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return os.RemoveAll(old)
}

// notRunning returns ErrMemberRunning when an etcd holds dataDir's write-ahead
// log: etcd locks every WAL file it has open (server/storage/wal/wal.go), so a
// lock that cannot be taken means a live member.
func notRunning(dataDir string) error {
	wals, err := filepath.Glob(filepath.Join(dataDir, "member", "wal", "*.wal"))
	if err != nil {
		return err
	}
	for _, w := range wals {
		l, err := fileutil.TryLockFile(w, os.O_RDWR, fileutil.PrivateFileMode)
		if errors.Is(err, fileutil.ErrLocked) {
			return fmt.Errorf("%w: %s", ErrMemberRunning, dataDir)
		}
		if err != nil {
			return fmt.Errorf("checking %s: %w", w, err)
		}
		_ = l.Close()
	}
	return nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

package components

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

//go:embed components.sum
var componentsSum []byte

// KubernetesBinaries are the paths of one Kubernetes release's control plane
// binaries: all a cluster on that release runs.
type KubernetesBinaries struct {
	Release               Release
	KubeAPIServer         string
	KubeControllerManager string
	KubeScheduler         string
}

// ToolBinaries are the paths of one release's kubectl and kubemark (the
// hollow nodes): a cache entry of their own, built only where they are used.
type ToolBinaries struct {
	Release  Release
	Kubemark string
	Kubectl  string
}

// EtcdBinaries are the paths of the etcd release's binaries.
type EtcdBinaries struct {
	Version string
	Etcd    string
	Etcdctl string
	Etcdutl string
}

// Config says where binaries are cached and how builds report progress.
type Config struct {
	// CacheDir holds one directory per built version. Default: DefaultCacheDir().
	CacheDir string
	// Go is the go command. Default: "go" from PATH.
	Go string
	// Progress receives human-readable build progress; nil discards it.
	Progress io.Writer
	// SumFile, when set, receives the union of its old content and every module
	// checksum a build used (make components-sum). Normal builds leave it empty and
	// verify against the components.sum compiled into cellplane.
	SumFile string
}

// Cache builds binaries on first use and returns cached ones after that.
type Cache struct {
	cfg Config

	mu sync.Mutex
	// verified holds the stamp of every binary whose hash matched, so later
	// calls re-hash only a binary that changed on disk.
	verified map[string]stamp
}

// DefaultCacheDir is $CELLPLANE_CACHE_DIR, else $XDG_CACHE_HOME/cellplane, else
// ~/.cache/cellplane: outside any source tree, shared by every checkout on the machine.
func DefaultCacheDir() string {
	if d := os.Getenv("CELLPLANE_CACHE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "cellplane")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "cellplane-cache")
	}
	return filepath.Join(home, ".cache", "cellplane")
}

// New returns a Cache with defaults filled in.
func New(cfg Config) *Cache {
	if cfg.CacheDir == "" {
		cfg.CacheDir = DefaultCacheDir()
	}
	if cfg.Go == "" {
		cfg.Go = "go"
	}
	if cfg.Progress == nil {
		cfg.Progress = io.Discard
	}
	return &Cache{cfg: cfg, verified: map[string]stamp{}}
}

// Kubernetes returns the control plane binaries of release r, building them if
// they are missing.
func (c *Cache) Kubernetes(ctx context.Context, r Release) (KubernetesBinaries, error) {
	dir := filepath.Join(c.cfg.CacheDir, "kubernetes-"+r.Version)
	b := KubernetesBinaries{
		Release:               r,
		KubeAPIServer:         filepath.Join(dir, "kube-apiserver"),
		KubeControllerManager: filepath.Join(dir, "kube-controller-manager"),
		KubeScheduler:         filepath.Join(dir, "kube-scheduler"),
	}
	return b, c.ensure(ctx, dir, kubernetesBuild(r, controlPlaneCommands))
}

// Tools returns kubectl and kubemark of release r, building them if they are
// missing ("kubernetes-tools-<version>"): a cluster's control plane needs
// neither, so an older minor kept only for upgrades never pays for them.
func (c *Cache) Tools(ctx context.Context, r Release) (ToolBinaries, error) {
	dir := filepath.Join(c.cfg.CacheDir, "kubernetes-tools-"+r.Version)
	b := ToolBinaries{
		Release:  r,
		Kubemark: filepath.Join(dir, "kubemark"),
		Kubectl:  filepath.Join(dir, "kubectl"),
	}
	spec := kubernetesBuild(r, toolCommands)
	spec.title = "Kubernetes tools " + r.Version + " (" + strings.Join(toolCommands, ", ") + ")"
	return b, c.ensure(ctx, dir, spec)
}

// Etcd returns the etcd binaries, building them if they are missing.
func (c *Cache) Etcd(ctx context.Context) (EtcdBinaries, error) {
	dir := filepath.Join(c.cfg.CacheDir, "etcd-"+EtcdVersion)
	b := EtcdBinaries{
		Version: EtcdVersion,
		Etcd:    filepath.Join(dir, "etcd"),
		Etcdctl: filepath.Join(dir, "etcdctl"),
		Etcdutl: filepath.Join(dir, "etcdutl"),
	}
	return b, c.ensure(ctx, dir, etcdBuild())
}

// Cached reports whether etcd and the default release's control plane are
// built: what a store and a cluster created without a version run. Other
// releases are built on first use, or ahead with `cellplane components build`.
func (c *Cache) Cached() bool {
	dirs := []string{
		filepath.Join(c.cfg.CacheDir, "etcd-"+EtcdVersion),
		filepath.Join(c.cfg.CacheDir, "kubernetes-"+Default().Version),
	}
	for _, d := range dirs {
		if !complete(d) {
			return false
		}
	}
	return true
}

func complete(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ".complete"))
	return err == nil
}

// ensure builds into dir unless a previous build completed there, and verifies
// every binary of the entry against the hashes recorded at build time, so a
// binary altered on disk is refused before anything runs it (ErrTampered). It
// is not rebuilt: a silent rebuild would hide an intrusion, so the error tells
// the operator to look and remove the entry. A file lock makes concurrent
// callers (parallel tests, two terminals) wait for one build instead of racing;
// the build lands in a temporary directory renamed into place, so a killed
// build never leaves a half-filled cache entry behind.
func (c *Cache) ensure(ctx context.Context, dir string, spec buildSpec) error {
	if err := c.ensureRoot(); err != nil {
		return err
	}
	if complete(dir) {
		return c.verify(dir, spec)
	}
	unlock, err := c.lock()
	if err != nil {
		return err
	}
	if complete(dir) {
		unlock()
		return c.verify(dir, spec)
	}
	defer unlock()
	start := time.Now()
	c.progressf("building %s (first use on this machine; cached in %s)\n", spec.title, dir)
	if err := c.build(ctx, dir, spec); err != nil {
		return fmt.Errorf("building %s: %w", spec.title, err)
	}
	c.progressf("built %s in %s\n", spec.title, time.Since(start).Round(time.Second))
	return nil
}

// progressf shows build progress. It is for people watching a terminal: a write
// to it that fails must not fail the build.
func (c *Cache) progressf(format string, args ...any) {
	_, _ = fmt.Fprintf(c.cfg.Progress, format, args...)
}

func (c *Cache) lock() (func(), error) {
	if err := os.MkdirAll(c.cfg.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating component cache: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(c.cfg.CacheDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening component cache lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		_ = f.Close() // nothing was locked; the Flock error is the one to report
		return nil, fmt.Errorf("locking component cache: %w", err)
	}
	// Closing releases the lock; the kernel drops it even if close reports an
	// error, so there is nothing to do with one.
	return func() { _ = f.Close() }, nil
}

var errIncomplete = errors.New("build produced no binary")

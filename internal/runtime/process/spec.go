package process

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// ErrInvalidSpec is returned when a Spec misses a required field.
var ErrInvalidSpec = errors.New("invalid process spec")

// Spec describes one process the runtime keeps running.
type Spec struct {
	ID       string   // unique, used in logs, e.g. "cell-1/default/demo/etcd-a"
	Path     string   // absolute binary path
	Args     []string // arguments after the program name
	Env      []string // full environment; nil means PATH and HOME from ours
	Dir      string   // working directory, created 0700; empty means StateDir
	StateDir string   // holds <Name>.pid and <Name>.log, created 0700
	Name     string   // file stem inside StateDir, e.g. "etcd-a"
	// NetNS, when set, is the path of the network namespace the process runs
	// in (a zone's, /run/netns/...). It is part of the spec hash: moving a
	// process to another namespace restarts it.
	NetNS string
	// StopTimeout, when positive, replaces Options.StopTimeout for Stop: a
	// caller about to delete a process's data needs no graceful shutdown.
	// It is not part of the spec hash, so changing it restarts nothing.
	StopTimeout time.Duration
	// BeforeStart, when set, runs before every start, restarts included; an
	// error refuses the start, and the supervisor tries again after its
	// back-off. It is how etcd is kept from starting on a lost data directory.
	// It is not part of the spec hash.
	BeforeStart func() error `json:"-"`

	// Isolation. None of it is part of the spec hash: a process started
	// without it (by an older cellplane, or before it was turned on) keeps
	// running, as static stability demands, and gets it at its next start.
	// Only the cgroup reaches an adopted process, as it can be moved in
	// while it runs.

	// User, when set, is the user, group and supplementary groups the process
	// runs as; it needs root. The process starts with no capabilities.
	User *Credential
	// Hostname, when set, gives the process a UTS namespace of its own with
	// this host name, set before it runs (needs root).
	Hostname string
	// Cgroup, when set, is the control group the process starts in (and
	// that an adopted process is moved into).
	Cgroup Cgroup `json:"-"`
}

// Credential is a numeric identity: no /etc/passwd entry is needed.
type Credential struct {
	UID, GID uint32
	Groups   []uint32 // supplementary groups; none when empty
}

// Cgroup places processes in a control group.
type Cgroup interface {
	// PrepareStart runs on the locked thread that is about to fork the
	// process: it may move that thread into the group or set attr to clone
	// the child into it. restore, when not nil, runs after the fork (also
	// when err is set) and puts the thread back; the thread goes back to the
	// Go runtime only if it succeeds.
	PrepareStart(attr *syscall.SysProcAttr) (restore func() error, err error)
	// AddProcess moves a running process into the group.
	AddProcess(pid int) error
}

// isolated reports whether starting s needs a thread of its own.
func (s Spec) isolated() bool { return s.NetNS != "" || s.Hostname != "" || s.Cgroup != nil }

func (s Spec) validate() error {
	switch {
	case s.ID == "":
		return fmt.Errorf("%w: empty ID", ErrInvalidSpec)
	case s.StateDir == "":
		return fmt.Errorf("%w: %s: empty StateDir", ErrInvalidSpec, s.ID)
	case s.Name == "" || strings.ContainsRune(s.Name, '/'):
		return fmt.Errorf("%w: %s: bad Name %q", ErrInvalidSpec, s.ID, s.Name)
	case len(s.Hostname) > 64:
		return fmt.Errorf("%w: %s: host name %q is longer than 64 bytes", ErrInvalidSpec, s.ID, s.Hostname)
	}
	return nil
}

// validateStart adds the checks that only matter when we exec the binary;
// Stop needs nothing but the pid file location.
func (s Spec) validateStart() error {
	if err := s.validate(); err != nil {
		return err
	}
	if !filepath.IsAbs(s.Path) {
		return fmt.Errorf("%w: %s: Path %q is not absolute", ErrInvalidSpec, s.ID, s.Path)
	}
	return nil
}

func (s Spec) pidPath() string { return filepath.Join(s.StateDir, s.Name+".pid") }
func (s Spec) logPath() string { return filepath.Join(s.StateDir, s.Name+".log") }

// workDir defaults to StateDir rather than our own working directory, so a
// component never depends on where cellplane happened to be launched from.
func (s Spec) workDir() string {
	if s.Dir == "" {
		return s.StateDir
	}
	return s.Dir
}

// hash identifies what the process runs. It covers only what changes the
// running program (not ID or file locations), so renaming a log directory
// does not restart etcd. A nil Env hashes as nil rather than as the PATH
// and HOME we would pass, so launching cellplane from another shell does not
// restart every component. JSON keeps nil and empty Env distinct, as they
// produce different environments.
// SameProcess reports whether s and o describe the same process: one
// running under s needs no restart to run under o.
func (s Spec) SameProcess(o Spec) bool { return s.hash() == o.hash() }

func (s Spec) hash() string {
	b, _ := json.Marshal(struct {
		Path string
		Args []string
		Env  []string
		Dir  string
		// omitempty keeps the hash of every spec without a namespace as it
		// was, so upgrading cellplane restarts nothing.
		NetNS string `json:",omitempty"`
	}{s.Path, s.Args, s.Env, s.Dir, s.NetNS})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// environ keeps the child's environment explicit: inheriting cellplane's
// whole environment would leak its credentials and make a component's
// behaviour depend on the shell that started cellplane.
func (s Spec) environ() []string {
	if s.Env != nil {
		return s.Env
	}
	env := []string{} // never nil: exec.Cmd would inherit everything
	for _, k := range []string{"PATH", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

package process

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// instance is one incarnation of a spec: a process we started (and can wait
// for) or one we adopted from a pid file (and can only watch).
type instance struct {
	pid       int
	startTime uint64
	startedAt time.Time
	adopted   bool

	// Set for processes we started; waitErr is written before done closes.
	done    chan struct{}
	waitErr error
}

func adoptedInstance(p pidFile) *instance {
	return &instance{pid: p.PID, startTime: p.StartTime, startedAt: p.StartedAt, adopted: true}
}

// start launches s detached from cellplane and records it in the pid file.
func start(s Spec) (*instance, error) {
	if s.BeforeStart != nil {
		if err := s.BeforeStart(); err != nil {
			return nil, fmt.Errorf("not starting %s: %w", s.ID, err)
		}
	}
	if err := prepareDirs(s); err != nil {
		return nil, err
	}
	// O_NOFOLLOW: an isolated process may write in its state directory (an
	// API server's audit log), so a link planted there must not redirect
	// what we, as root, append to.
	logf, err := os.OpenFile(s.logPath(), os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening log of %s: %w", s.ID, err)
	}
	// The child has its own copy of the descriptor after Start; closing ours
	// cannot lose the child's output, so its error is of no use.
	defer func() { _ = logf.Close() }()
	cmd := command(s, logf)
	if err := startIn(s, cmd); err != nil {
		return nil, fmt.Errorf("starting %s: %w", s.ID, err)
	}
	inst, err := record(s, cmd)
	if err != nil {
		// A process without a pid file could never be adopted or stopped by
		// a later cellplane, so do not leave it running.
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, err
	}
	go reap(cmd, inst)
	return inst, nil
}

func prepareDirs(s Spec) error {
	for _, d := range []string{s.StateDir, s.workDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("creating directory for %s: %w", s.ID, err)
		}
	}
	return nil
}

func command(s Spec, logf *os.File) *exec.Cmd {
	cmd := exec.Command(s.Path, s.Args...) //nolint:gosec // G204: starting the processes callers specify is this runtime's whole job
	cmd.Env = s.environ()
	cmd.Dir = s.workDir()
	cmd.Stdin = nil // /dev/null
	cmd.Stdout = logf
	cmd.Stderr = logf
	// A new session detaches the child from cellplane's terminal and process
	// group: Ctrl-C, SIGHUP on logout and kill(-pgid) of cellplane all miss it.
	// Pdeathsig stays unset on purpose; the child must outlive us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if u := s.User; u != nil {
		// Go sets groups, then group, then user in the child before exec;
		// leaving uid 0 drops every capability.
		groups := u.Groups
		if groups == nil {
			groups = []uint32{} // setgroups(0): none of ours
		}
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: u.UID, Gid: u.GID, Groups: groups}
	}
	return cmd
}

// record reads the start time before anyone waits on the child, so /proc
// still has its entry (at worst as a zombie), then persists the pid file.
func record(s Spec, cmd *exec.Cmd) (*instance, error) {
	pid := cmd.Process.Pid
	st, err := readStat(pid)
	if err != nil {
		return nil, fmt.Errorf("recording %s: %w", s.ID, err)
	}
	inst := &instance{pid: pid, startTime: st.startTime, startedAt: time.Now(), done: make(chan struct{})}
	pf := pidFile{PID: pid, StartTime: st.startTime, SpecHash: s.hash(), Path: s.Path, StartedAt: inst.startedAt}
	if err := writePIDFile(s.pidPath(), pf); err != nil {
		return nil, fmt.Errorf("recording %s: %w", s.ID, err)
	}
	return inst, nil
}

// reap waits for the child so it never lingers as a zombie while we live.
// It deliberately outlives Close: reaping is not supervision, and an
// unreaped child would stay a zombie holding its PID until cellplane exits.
func reap(cmd *exec.Cmd, inst *instance) {
	inst.waitErr = cmd.Wait()
	close(inst.done)
}

// exitText renders how an instance ended, in os/exec's words.
func exitText(inst *instance) string {
	if inst.adopted {
		return "exited (status unknown: adopted process)"
	}
	if inst.waitErr == nil {
		return "exit status 0"
	}
	return inst.waitErr.Error() // "exit status 1", "signal: killed"
}

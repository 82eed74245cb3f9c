package machine

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Binaries from Debian's packages (containerd, runc, containernetworking-
// plugins) and util-linux, which hack/test.sh installs.
const (
	containerdBin = "/usr/bin/containerd"
	ctrBin        = "/usr/bin/ctr"
	nsenterBin    = "/usr/bin/nsenter"
	unshareBin    = "/usr/bin/unshare"
)

// ErrMissingPackage is wrapped when a binary a machine needs is not installed.
var ErrMissingPackage = errors.New("a package machines need is missing (apt-get install containerd runc containernetworking-plugins)")

// Machine is one running machine.
type Machine struct {
	cfg   Config
	names names
	cg    *cgroups
	log   *slog.Logger

	mu     sync.Mutex
	procs  []*proc
	holder int // the PID whose namespaces the machine's processes join
	stop   sync.Once
	errs   error
}

type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start sets up a machine and starts its containerd and kubelet; it returns
// once the kubelet runs, not once the node is Ready (the caller watches the
// cluster for that). On error it leaves nothing behind.
func Start(ctx context.Context, cfg Config) (_ *Machine, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, b := range []string{containerdBin, ctrBin, nsenterBin, unshareBin, "/usr/sbin/runc", filepath.Join(cniBinDir, "bridge"), filepath.Join(cniBinDir, "host-local"), filepath.Join(cniBinDir, "loopback"), cfg.Kubelet} {
		if _, err := os.Stat(b); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrMissingPackage, err)
		}
	}
	m := &Machine{cfg: cfg, names: namesOf(cfg.Name), log: cfg.Log}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	m.log = m.log.With("node", cfg.Name)
	if _, err := os.Stat(filepath.Join(netnsDir, m.names.netns)); err == nil {
		return nil, fmt.Errorf("machine %s: network namespace %s exists: remove the old machine first", cfg.Name, m.names.netns)
	}
	if m.cg, err = newCgroups(m.names.cgroup); err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, m.Stop())
		}
	}()
	if err := m.start(ctx); err != nil {
		return nil, fmt.Errorf("starting machine %s: %w", cfg.Name, err)
	}
	return m, nil
}

func (m *Machine) start(ctx context.Context) error {
	if err := os.MkdirAll(filepath.Join(m.cfg.Dir, "logs"), 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", m.cfg.Dir, err)
	}
	if err := m.cfg.writeFiles(); err != nil {
		return err
	}
	if err := m.cg.create(); err != nil {
		return err
	}
	if err := setUpNetwork(&m.cfg, m.names); err != nil {
		return err
	}
	if err := m.startHolder(ctx); err != nil {
		return err
	}
	if _, err := m.run("containerd", containerdBin, "--config", filepath.Join(m.cfg.Dir, "containerd.toml")); err != nil {
		return err
	}
	if err := m.waitContainerd(ctx); err != nil {
		return err
	}
	if err := m.importImages(ctx); err != nil {
		return err
	}
	_, err := m.run("kubelet", m.cfg.Kubelet, m.cfg.kubeletArgs()...)
	return err
}

// startHolder starts the process that makes and holds the machine's mount
// namespace, inside its network namespace, and waits until it is set up.
func (m *Machine) startHolder(ctx context.Context) error {
	cmd := exec.Command(nsenterBin, "--net="+filepath.Join(netnsDir, m.names.netns), "--", //nolint:gosec // G204: fixed binaries; the script is built from validated configuration
		unshareBin, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", m.cfg.holderScript())
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("starting the machine's holder: %w", err)
	}
	p, err := m.startProc("holder", cmd)
	if err != nil {
		return err
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() && sc.Text() == "ready" {
			ready <- nil
		} else {
			ready <- errors.New("the machine's holder exited while setting up its mounts (see holder.log)")
		}
		_, _ = io.Copy(io.Discard, out) // keeps the pipe drained; the holder prints nothing more
	}()
	select {
	case err := <-ready:
		if err != nil {
			return err
		}
	case <-ctx.Done():
		return ctx.Err()
	}
	m.mu.Lock()
	m.holder = p.cmd.Process.Pid
	m.mu.Unlock()
	return nil
}

// run starts a binary inside the machine's namespaces and cgroups, its
// output appended to logs/<name>.log.
func (m *Machine) run(name, bin string, args ...string) (*proc, error) {
	m.mu.Lock()
	holder := m.holder
	m.mu.Unlock()
	full := append([]string{"--target", strconv.Itoa(holder), "--mount", "--net", "--", bin}, args...)
	return m.startProc(name, exec.Command(nsenterBin, full...)) //nolint:gosec // G204: the machine's own binaries and flags
}

func (m *Machine) startProc(name string, cmd *exec.Cmd) (*proc, error) {
	logf, err := os.OpenFile(filepath.Join(m.cfg.Dir, "logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) //nolint:gosec // G304: the machine's own log directory
	if err != nil {
		return nil, fmt.Errorf("opening %s's log: %w", name, err)
	}
	if cmd.Stdout == nil {
		cmd.Stdout = logf
	}
	cmd.Stderr = logf
	err = m.cg.start(cmd)
	_ = logf.Close() // the child holds its own descriptor
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // Stop ends it; how is in the log
		close(p.done)
	}()
	m.mu.Lock()
	m.procs = append(m.procs, p)
	m.mu.Unlock()
	m.log.Info("machine process started", "process", name, "pid", cmd.Process.Pid)
	return p, nil
}

// socketPath is the containerd socket as the host reaches it: through the
// holder's root, which is in the machine's mount namespace.
func (m *Machine) socketPath() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fmt.Sprintf("/proc/%d/root%s", m.holder, containerdSocket)
}

func (m *Machine) waitContainerd(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for {
		c, err := net.Dial("unix", m.socketPath())
		if err == nil {
			_ = c.Close() // only asking whether it listens
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("containerd did not listen (see logs/containerd.log): %w", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// importImages loads the archives into the namespace the CRI plugin uses.
// ctr reads each archive here and streams it to the machine's containerd.
func (m *Machine) importImages(ctx context.Context) error {
	for _, img := range m.cfg.Images {
		cmd := exec.CommandContext(ctx, ctrBin, "--address", m.socketPath(), "--namespace", "k8s.io", "images", "import", img) //nolint:gosec // G204: the configured archives
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("importing %s: %w: %s", img, err, out)
		}
	}
	return nil
}

// Address is the node's IP.
func (m *Machine) Address() netip.Addr { return m.cfg.Address }

// Name is the node's name.
func (m *Machine) Name() string { return m.cfg.Name }

// PIDs lists every process running in the machine now: its holder,
// containerd, the kubelet, the shims and the pods' processes.
func (m *Machine) PIDs() []int { return m.cg.pids() }

// Stop ends the machine: every process in its cgroups, by PID, then its
// cgroups, network and directory. It is safe to call more than once.
func (m *Machine) Stop() error {
	m.stop.Do(func() {
		m.errs = remove(m.cg, m.names, m.cfg.Dir)
		m.mu.Lock()
		procs := m.procs
		m.mu.Unlock()
		for _, p := range procs {
			<-p.done
		}
		m.log.Info("machine stopped", "err", m.errs)
	})
	return m.errs
}

// Remove ends and deletes what a machine named name with directory dir
// left, for one whose owner died without stopping it. Nothing left is fine.
func Remove(name, dir string) error {
	n := namesOf(name)
	cg, err := newCgroups(n.cgroup)
	if err != nil {
		return err
	}
	return remove(cg, n, dir)
}

// remove ends every process first: with them goes the machine's mount
// namespace and every mount in it, and only then can its files go.
func remove(cg *cgroups, n names, dir string) error {
	if err := cg.killAll(30 * time.Second); err != nil {
		return err
	}
	return errors.Join(cg.remove(), removeNetwork(n), removeDir(dir))
}

func removeDir(dir string) error {
	if dir == "" {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing %s: %w", dir, err)
	}
	return nil
}

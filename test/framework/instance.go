package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/runtime/cgroup"
	"github.com/cellplane/cellplane/internal/runtime/process"
	"github.com/cellplane/cellplane/internal/zonenet"
)

// Instances take loopback /16 blocks from 127.140 up to (not including)
// 127.200, clear of the default instance a developer may be running
// (127.100-101) and of the addresses benchmarks and package tests use (127.200
// and up). The blocks are used round: a suite has more instances than there are
// blocks, and an instance's block is free again once its test cleaned up.
const (
	firstBlock  = 140
	blockRange  = 60 // /16s: firstBlock to firstBlock+blockRange-1
	blockStride = 4  // /16s per instance: the region and up to three cells
)

// nextBlock counts the blocks handed out. Each test binary starts at an offset
// of its own, so two suites running at once rarely meet.
var nextBlock atomic.Int32

func init() { nextBlock.Store(int32(os.Getpid() % (blockRange / blockStride))) }

// Instance is one `cellplane up` under test.
type Instance struct {
	T       testing.TB
	Bins    Binaries
	DataDir string
	Block   string
	// Cells is passed to up as --cells when set (at most 3).
	Cells int
	// Args are more flags for up, e.g. the backup settings.
	Args []string
	// Env is added to up's environment, e.g. S3 credentials, which must not be
	// flags.
	Env []string
	// ZoneNamespaces runs every cell's zones in network namespaces of their
	// own (up --zone-namespaces); cleanup removes them.
	ZoneNamespaces bool

	mu  sync.Mutex
	cmd *exec.Cmd
	log *lockedBuffer
}

// freeBlock hands out the next block whose regional API address is free: another
// test binary running at the same time (a second suite) may hold one. When
// every block is taken it returns the next anyway, and that instance fails to
// listen with a clear error.
func freeBlock() string {
	var n int
	for range blockRange / blockStride {
		n = firstBlock + int(nextBlock.Add(1))%(blockRange/blockStride)*blockStride
		ln, err := net.Listen("tcp", fmt.Sprintf("127.%d.0.1:%d", n, ipam.RegionAPIPort))
		if err == nil {
			_ = ln.Close() // the port was free; that was the question
			break
		}
	}
	return fmt.Sprintf("127.%d", n)
}

// NewInstance prepares an instance on a fresh data directory and registers its
// cleanup: every process it ever started is ended by PID and its files removed.
func NewInstance(t testing.TB, bins Binaries) *Instance {
	t.Helper()
	in := &Instance{T: t, Bins: bins, DataDir: t.TempDir(), Block: freeBlock()}
	t.Cleanup(in.cleanup)
	return in
}

// Start runs `cellplane up` and waits until the regional API answers.
func (in *Instance) Start(ctx context.Context) {
	in.T.Helper()
	registerDataDir(in.DataDir)
	in.mu.Lock()
	in.log = &lockedBuffer{}
	args := []string{"up", "--data-dir", in.DataDir, "--address-block", in.Block}
	if in.Cells > 0 {
		if in.Cells >= blockStride {
			in.T.Fatalf("an instance runs at most %d cells", blockStride-1)
		}
		args = append(args, "--cells", fmt.Sprint(in.Cells))
	}
	if in.ZoneNamespaces {
		args = append(args, "--zone-namespaces")
	}
	args = append(args, in.Args...)
	in.cmd = exec.Command(in.Bins.Cellplane, args...)
	if in.Env != nil {
		in.cmd.Env = append(os.Environ(), in.Env...)
	}
	in.cmd.Stdout, in.cmd.Stderr = in.log, in.log
	in.mu.Unlock()
	if err := in.cmd.Start(); err != nil {
		in.T.Fatalf("starting cellplane: %v", err)
	}
	err := Eventually(ctx, 5*time.Minute, 200*time.Millisecond, func() error {
		if in.exited() {
			return Permanent(fmt.Errorf("cellplane up exited:\n%s", in.Log()))
		}
		_, err := in.Client().ListAllClusters(ctx)
		return err
	})
	if err != nil {
		in.T.Fatalf("cellplane up did not become ready: %v\n%s", err, in.Log())
	}
}

func (in *Instance) exited() bool {
	if in.cmd.ProcessState != nil {
		return true
	}
	// Until it is waited for, an exited process is a zombie that still takes
	// signals; /proc tells them apart. The state follows the ")" that ends the
	// command name.
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", in.cmd.Process.Pid))
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z'
}

// PID is the process ID of the running cellplane.
func (in *Instance) PID() int { return in.cmd.Process.Pid }

// Log returns what the current run of cellplane printed.
func (in *Instance) Log() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.log.String()
}

// Kill ends cellplane with SIGKILL, as a crash would, and waits for it.
func (in *Instance) Kill() {
	in.T.Helper()
	_ = in.cmd.Process.Kill()
	_ = in.cmd.Wait()
}

// Stop interrupts cellplane as Ctrl-C would and waits for it to exit.
func (in *Instance) Stop() error {
	if err := in.cmd.Process.Signal(os.Interrupt); err != nil {
		return err
	}
	return in.cmd.Wait()
}

// Client returns a regional API client for the running instance, signing with
// the profile cellplane wrote; before that exists it returns one that fails.
func (in *Instance) Client() *client.Client {
	c, err := client.FromDataDir(context.Background(), in.DataDir)
	if err != nil {
		return client.New("https://unreachable.invalid", http.DefaultClient)
	}
	return c
}

// CLI runs a cellplane subcommand against the instance.
func (in *Instance) CLI(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	cmd := exec.CommandContext(ctx, in.Bins.Cellplane, append([]string{"--data-dir", in.DataDir}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// PIDFiles lists every pid file under the data directory.
func (in *Instance) PIDFiles() []string {
	var out []string
	_ = filepath.WalkDir(in.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".pid") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// cleanup kills cellplane, then every process the instance's pid files name. They
// stop together with a short grace: the data is about to be removed, and a
// kube-apiserver whose etcd stopped first can take long to shut down politely.
func (in *Instance) cleanup() {
	if in.cmd != nil && in.cmd.Process != nil && in.cmd.ProcessState == nil {
		in.Kill()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rt := process.New(process.Options{})
	defer rt.Close()
	// Cells' controllers first: they would restart the tenant processes ended
	// next, or start new ones. The rest is listed only once they are gone, so a
	// process a cell started meanwhile is not missed.
	var cells []string
	for _, p := range in.PIDFiles() {
		if filepath.Base(p) == "controllers.pid" {
			cells = append(cells, p)
		}
	}
	if err := stopAll(ctx, rt, cells); err != nil {
		in.T.Errorf("cleaning up cells: %v", err)
	}
	var rest []string
	for _, p := range in.PIDFiles() {
		if filepath.Base(p) != "controllers.pid" {
			rest = append(rest, p)
		}
	}
	if err := stopAll(ctx, rt, rest); err != nil {
		in.T.Errorf("cleaning up processes: %v", err)
	}
	if in.ZoneNamespaces {
		in.removeZoneNamespaces()
	}
	in.removeCgroups()
}

// removeCgroups deletes the cgroups the instance's cells made for their
// clusters (under this process's own, which the cells inherited), once
// nothing runs in them.
func (in *Instance) removeCgroups() {
	m, err := cgroup.Detect()
	if err != nil {
		return // no cgroups here, so none were made
	}
	block, err := ipam.ParseBlock(in.Block, blockStride-1)
	if err != nil {
		in.T.Errorf("removing cgroups: %v", err)
		return
	}
	// Processes just killed leave their groups a moment later.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for k := 1; k < blockStride; k++ {
		err := Eventually(ctx, 10*time.Second, 100*time.Millisecond, func() error {
			return m.RemovePrefix(tenant.CellCgroupPrefix(block.Cell(k)))
		})
		if err != nil {
			in.T.Errorf("removing cgroups of cell %d: %v", k, err)
		}
	}
}

// removeZoneNamespaces deletes the namespaces, links and routes of every
// cell the instance's block can hold, once nothing runs in them.
func (in *Instance) removeZoneNamespaces() {
	block, err := ipam.ParseBlock(in.Block, blockStride-1)
	if err != nil {
		in.T.Errorf("removing zone namespaces: %v", err)
		return
	}
	for k := 1; k < blockStride; k++ {
		n := zonenet.New(zonenet.Options{Cell: block.Cell(k), Log: slog.New(slog.DiscardHandler)})
		if err := n.Remove(); err != nil {
			in.T.Errorf("removing zone namespaces of cell %d: %v", k, err)
		}
	}
}

// stopAll ends the processes the pid files name, side by side.
func stopAll(ctx context.Context, rt *process.Runtime, files []string) error {
	errs := make([]error, len(files))
	var wg sync.WaitGroup
	for i, p := range files {
		spec := process.Spec{ID: p, StateDir: filepath.Dir(p), Name: strings.TrimSuffix(filepath.Base(p), ".pid"), StopTimeout: time.Second}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = rt.Stop(ctx, spec)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// CellPID is the process ID of cell k's controllers, from its pid file.
func (in *Instance) CellPID(k int) int {
	in.T.Helper()
	pid, err := process.ReadPID(filepath.Join(in.DataDir, "cells", fmt.Sprintf("cell-%d", k), "controllers.pid"))
	if err != nil {
		in.T.Fatalf("cell-%d: %v", k, err)
	}
	return pid
}

// lockedBuffer collects a process's output while tests read it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

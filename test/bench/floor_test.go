package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/test/framework"
)

// rawPlane is a control plane started by hand: the same binaries, flags and
// certificates cellplane uses, launched directly with no service around them. The
// time it takes to become healthy is the floor for cellplane's create-to-ACTIVE.
type rawPlane struct {
	plan  *controlplane.Plan
	procs []*rawProc
}

// rawProc is one member started by hand; done closes when it exits.
type rawProc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
}

// exited returns an error naming the first member that exited, with the end of
// its log: a raw plane has no supervisor to restart it, so it never gets healthy.
func (r *rawPlane) exited() error {
	for _, p := range r.procs {
		select {
		case <-p.done:
			tail, _ := os.ReadFile(p.log)
			if len(tail) > 2000 {
				tail = tail[len(tail)-2000:]
			}
			return fmt.Errorf("%s exited (%v); the end of its log:\n%s", p.name, p.err, tail)
		default:
		}
	}
	return nil
}

func prepareRaw(b *testing.B, cell ipam.Cell, slot int) *rawPlane {
	dir := b.TempDir()
	// The upstream processes only: what cellplane adds (the KMS plugins, and
	// with them the API servers' encryption configuration; the sign-in
	// webhooks) counts on cellplane's side.
	upstream := slices.DeleteFunc(controlplane.Default(), func(c controlplane.Component) bool {
		return c.Kind() == controlplane.KindKMSPlugin
	})
	p := controlplane.New(controlplane.Input{
		Namespace: "bench", Name: fmt.Sprintf("raw-%d", slot), UID: fmt.Sprintf("raw-%d-%d", slot, time.Now().UnixNano()),
		ClusterName: fmt.Sprintf("raw-%d", slot), Dir: dir, Cell: cell, Slot: slot,
		Kubernetes: bins.Kubernetes, Etcd: bins.Etcd, Components: upstream,
	})
	// Certificates and configs are prepared before the clock starts: the floor is
	// the components' own start-up.
	if _, err := pki.EnsureCluster(p.PKIDir(), p.PKISpec()); err != nil {
		b.Fatal(err)
	}
	if err := p.WriteConfigs(); err != nil {
		b.Fatal(err)
	}
	if err := os.MkdirAll(p.LogDir(), 0o700); err != nil {
		b.Fatal(err)
	}
	return &rawPlane{plan: p}
}

// start launches every member at once and waits until all are healthy and an
// authenticated request to an API server succeeds.
func (r *rawPlane) start(ctx context.Context) (time.Duration, error) {
	begin := time.Now()
	for _, m := range r.plan.AllMembers() {
		spec := r.plan.Spec(m)
		cmd := exec.Command(spec.Path, spec.Args...)
		path := filepath.Join(r.plan.LogDir(), m.Name()+".log")
		logf, err := os.Create(path)
		if err != nil {
			return 0, err
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		logf.Close()
		p := &rawProc{name: m.Name(), cmd: cmd, log: path, done: make(chan struct{})}
		go func() { p.err = cmd.Wait(); close(p.done) }()
		r.procs = append(r.procs, p)
	}
	pr, err := controlplane.NewProber(r.plan)
	if err != nil {
		return 0, err
	}
	defer pr.Close()
	err = framework.Eventually(ctx, 3*time.Minute, 20*time.Millisecond, func() error {
		if err := r.exited(); err != nil {
			return framework.Permanent(err)
		}
		for _, m := range r.plan.AllMembers() {
			if err := pr.Check(ctx, m); err != nil {
				return err
			}
		}
		return pr.CheckAPIServer(ctx, r.plan.Members(controlplane.KindAPIServer)[0])
	})
	return time.Since(begin), err
}

func (r *rawPlane) stop() {
	for _, p := range r.procs {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
	r.procs = nil
}

// floor measures n raw control planes started at once. A plane that cannot
// become healthy (a member exits under the load, and nothing restarts it by
// hand) is a failed floor, returned as the error: the benchmark records it
// and goes on to measure cellplane.
func floor(b *testing.B, ctx context.Context, cell ipam.Cell, firstSlot, n int) ([]time.Duration, error) {
	planes := make([]*rawPlane, n)
	for i := range planes {
		planes[i] = prepareRaw(b, cell, firstSlot+i)
		b.Cleanup(planes[i].stop)
	}
	out := make([]time.Duration, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i, p := range planes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i], errs[i] = p.start(ctx)
		}()
	}
	wg.Wait()
	for _, p := range planes {
		p.stop()
	}
	for i, err := range errs {
		if err != nil {
			return out, fmt.Errorf("raw control plane %d of %d: %w", i+1, n, err)
		}
	}
	return out, nil
}

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
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
	procs []*exec.Cmd
}

func prepareRaw(b *testing.B, cell ipam.Cell, slot int) *rawPlane {
	dir := b.TempDir()
	p := controlplane.New(controlplane.Input{
		Namespace: "bench", Name: fmt.Sprintf("raw-%d", slot), UID: fmt.Sprintf("raw-%d-%d", slot, time.Now().UnixNano()),
		ClusterName: fmt.Sprintf("raw-%d", slot), Dir: dir, Cell: cell, Slot: slot,
		Kubernetes: bins.Kubernetes, Etcd: bins.Etcd,
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
		logf, err := os.Create(filepath.Join(r.plan.LogDir(), m.Name()+".log"))
		if err != nil {
			return 0, err
		}
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			return 0, err
		}
		logf.Close()
		r.procs = append(r.procs, cmd)
	}
	pr, err := controlplane.NewProber(r.plan)
	if err != nil {
		return 0, err
	}
	defer pr.Close()
	err = framework.Eventually(ctx, 3*time.Minute, 20*time.Millisecond, func() error {
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
	for _, c := range r.procs {
		_ = c.Process.Signal(syscall.SIGKILL)
		_ = c.Wait()
	}
}

// floor measures n raw control planes started at once.
func floor(b *testing.B, ctx context.Context, cell ipam.Cell, firstSlot, n int) []time.Duration {
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
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return out
}

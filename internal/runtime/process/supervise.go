package process

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// ErrExited is wrapped by the error passed to Options.OnExit when a
// supervised process ends without being asked to.
var ErrExited = errors.New("process exited unexpectedly")

// supervised is one spec under supervision in this Runtime.
type supervised struct {
	spec   Spec
	hash   string
	cancel context.CancelFunc
	done   chan struct{} // closed when the supervise goroutine returns

	mu     sync.Mutex
	status Status
}

func (sv *supervised) snapshot() Status {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	return sv.status
}

func (sv *supervised) started(inst *instance, restart bool) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.status.PID, sv.status.Running = inst.pid, true
	sv.status.Adopted = inst.adopted
	if restart {
		sv.status.Restarts++
	}
}

func (sv *supervised) exited(how string) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	sv.status.Running, sv.status.LastExit = false, how
}

// supervise restarts the process whenever it exits, until ctx ends.
func (r *Runtime) supervise(ctx context.Context, sv *supervised, inst *instance) {
	defer r.wg.Done()
	defer close(sv.done)
	b := backoff{min: r.opts.MinBackoff, max: r.opts.MaxBackoff, stableAfter: r.opts.StableAfter}
	for inst != nil {
		if !r.waitExit(ctx, inst) {
			return
		}
		r.handleExit(sv, inst)
		inst = r.restart(ctx, sv, &b, time.Since(inst.startedAt))
	}
}

// restart starts the spec again after a backoff, retrying failed starts,
// and returns nil once ctx ends.
func (r *Runtime) restart(ctx context.Context, sv *supervised, b *backoff, uptime time.Duration) *instance {
	for {
		if !sleepCtx(ctx, b.next(uptime)) {
			return nil
		}
		inst, err := start(sv.spec)
		if err == nil {
			sv.started(inst, true)
			r.log.Info("restarted process", "id", sv.spec.ID, "pid", inst.pid, "restarts", sv.snapshot().Restarts)
			return inst
		}
		r.log.Error("restarting process failed", "id", sv.spec.ID, "err", err)
		r.notify(sv.spec.ID, err)
		uptime = 0
	}
}

func (r *Runtime) handleExit(sv *supervised, inst *instance) {
	how := exitText(inst)
	sv.exited(how)
	r.log.Warn("process exited unexpectedly", "id", sv.spec.ID, "pid", inst.pid,
		"exit", how, "logTail", logTail(sv.spec.logPath(), 5))
	r.notify(sv.spec.ID, fmt.Errorf("%s (pid %d): %w: %s", sv.spec.ID, inst.pid, ErrExited, how))
}

// notify runs OnExit in its own goroutine so a slow controller callback can
// never stall supervision of this or any other process.
func (r *Runtime) notify(id string, err error) {
	if r.opts.OnExit != nil {
		go r.opts.OnExit(id, err)
	}
}

// backoff doubles the restart delay for a crash-looping process and resets
// it once a run lasted stableAfter, so one crash a day restarts quickly.
type backoff struct {
	min, max, stableAfter time.Duration
	cur                   time.Duration
}

func (b *backoff) next(uptime time.Duration) time.Duration {
	if b.cur == 0 || uptime >= b.stableAfter {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// logTail returns the last n lines of a log file, the first thing an
// operator needs when a component crash-loops.
func logTail(path string, n int) []string {
	const window = 8 << 10
	f, err := os.Open(path) //nolint:gosec // G304: a log this runtime writes (Spec.logPath)
	if err != nil {
		return nil
	}
	defer func() { _ = f.Close() }() // read only, and the tail is best effort anyway
	end, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return nil
	}
	buf := make([]byte, min(end, window))
	if _, err := f.ReadAt(buf, end-int64(len(buf))); err != nil && err != io.EOF {
		return nil
	}
	return lastLines(buf, n)
}

func lastLines(b []byte, n int) []string {
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) == 1 && len(lines[0]) == 0 {
		return nil
	}
	lines = lines[max(0, len(lines)-n):]
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = string(l)
	}
	return out
}

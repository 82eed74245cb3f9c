package down

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/cellplane/cellplane/internal/runtime/process"
)

// ErrNotConfirmed is returned when tenant control planes run and stopping them
// was not confirmed. Nothing was stopped, cellplane's own processes included, so
// nothing is left half-done.
var ErrNotConfirmed = errors.New("stopping tenant control planes was not confirmed; nothing was stopped")

// ErrUpStarted is returned when a `cellplane up` starts on the data directory
// while Stop runs: it would start again what Stop ends.
var ErrUpStarted = errors.New("cellplane up started on the data directory while stopping it")

// Options tunes Stop; zero values take the documented defaults.
type Options struct {
	// Confirm is asked, before anything stops, whether to go ahead when the
	// plan includes tenant control planes. Returning false or an error stops
	// nothing. Nil refuses: tenant clusters are never stopped unasked.
	Confirm func(*Plan) (bool, error)
	// Progress gets a line per tier as it stops; nil discards.
	Progress io.Writer
	// Logger gets the process runtime's logs, such as a process that ignored
	// SIGTERM being killed; nil discards.
	Logger *slog.Logger
	// UpGrace is how long `cellplane up` gets to stop its cells and the region
	// store before SIGKILL, default 90s: up gives its own shutdown a minute.
	UpGrace time.Duration
	// CellGrace is how long a cell process gets to stop its controllers and
	// its store, default 75s: a cell gives its store a minute.
	CellGrace time.Duration
	// Grace is how long any other process gets between SIGTERM and SIGKILL,
	// default 10s, the process runtime's.
	Grace time.Duration
}

func (o Options) withDefaults() Options {
	if o.Progress == nil {
		o.Progress = io.Discard
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.UpGrace = orDefault(o.UpGrace, 90*time.Second)
	o.CellGrace = orDefault(o.CellGrace, 75*time.Second)
	o.Grace = orDefault(o.Grace, 10*time.Second)
	return o
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Result says what Stop stopped.
type Result struct {
	Up        bool // a running `cellplane up` was stopped
	Processes int  // processes stopped through their pid files
}

// Stop stops what plan found, and what was started meanwhile: `cellplane up`
// first, then each tier in turn (cells; load balancers and controllers; API
// servers; etcd), the processes of a tier side by side, each with SIGTERM and
// SIGKILL after its grace. A tier is listed afresh once the one before is gone,
// so a process a cell started meanwhile is not missed. Stop returns at the first
// tier that fails; calling it again carries on, as it does on a directory where
// nothing runs.
func Stop(ctx context.Context, plan *Plan, o Options) (Result, error) {
	o = o.withDefaults()
	var res Result
	if len(plan.Tenant()) > 0 {
		if err := confirm(plan, o.Confirm); err != nil {
			return res, err
		}
	}
	if plan.Up != nil {
		if err := stopUp(ctx, plan.Up, o); err != nil {
			return res, err
		}
		res.Up = true
	}
	rt := process.New(process.Options{Logger: o.Logger})
	defer rt.Close()
	for i := range tiers {
		n, err := stopTier(ctx, rt, plan.DataDir, i, o)
		res.Processes += n
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

func confirm(plan *Plan, ask func(*Plan) (bool, error)) error {
	if ask == nil {
		return ErrNotConfirmed
	}
	ok, err := ask(plan)
	if err != nil {
		return fmt.Errorf("%w; %w", err, ErrNotConfirmed)
	}
	if !ok {
		return ErrNotConfirmed
	}
	return nil
}

func stopUp(ctx context.Context, u *Up, o Options) error {
	o.progressf("stopping cellplane up (pid %d), which stops its cells and the region store ... ", u.PID)
	start := time.Now()
	if err := u.stop(ctx, o.UpGrace); err != nil {
		o.progressf("failed\n")
		return err
	}
	o.progressf("done (%s)\n", since(start))
	return nil
}

// stopTier stops the processes of tier i that run now and returns how many.
func stopTier(ctx context.Context, rt *process.Runtime, dataDir string, i int, o Options) (int, error) {
	now, err := Find(dataDir)
	if err != nil {
		return 0, err
	}
	if now.Up != nil {
		return 0, fmt.Errorf("%w (pid %d); nothing more was stopped", ErrUpStarted, now.Up.PID)
	}
	procs := inTier(now.Processes, i)
	if len(procs) == 0 {
		return 0, nil
	}
	o.progressf("stopping %s ... ", Describe(procs))
	start := time.Now()
	if err := stopAll(ctx, rt, dataDir, procs, o.graceOf(i)); err != nil {
		o.progressf("failed\n")
		return 0, err
	}
	o.progressf("done (%s)\n", since(start))
	return len(procs), nil
}

func inTier(procs []Process, i int) []Process {
	var out []Process
	for _, p := range procs {
		if tierOf(p.Kind) == i {
			out = append(out, p)
		}
	}
	return out
}

func (o Options) graceOf(tier int) time.Duration {
	if tier == tierOf(KindCell) {
		return o.CellGrace
	}
	return o.Grace
}

// stopAll stops procs side by side through the runtime, which signals a process
// only while it has the start time its pid file recorded, signals its whole
// process group to reach helpers it forked, and removes the pid file after.
func stopAll(ctx context.Context, rt *process.Runtime, dataDir string, procs []Process, grace time.Duration) error {
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		id, err := filepath.Rel(dataDir, p.PIDFile())
		if err != nil {
			id = p.PIDFile()
		}
		spec := process.Spec{ID: id, StateDir: p.StateDir, Name: p.Name, StopTimeout: grace}
		wg.Go(func() { errs[i] = rt.Stop(ctx, spec) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func since(t time.Time) time.Duration { return time.Since(t).Round(100 * time.Millisecond) }

// progressf reports progress. A terminal that went away must not stop a
// shutdown half-way, so a failed write is ignored.
func (o Options) progressf(format string, args ...any) {
	_, _ = fmt.Fprintf(o.Progress, format, args...)
}

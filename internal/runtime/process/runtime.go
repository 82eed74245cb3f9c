package process

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"time"
)

// ErrClosed is returned by Ensure after Close.
var ErrClosed = errors.New("process runtime closed")

// Status is a snapshot of one supervised process.
type Status struct {
	PID      int
	Running  bool
	Adopted  bool   // found running from an earlier cellplane, not started by us
	Restarts int32  // restarts after unexpected exits in this Runtime
	LastExit string // e.g. "exit status 1", "signal: killed"; unknown for adopted processes
}

// Options tunes a Runtime; zero values take the documented defaults.
type Options struct {
	Logger *slog.Logger
	// OnExit is called, in its own goroutine, after a supervised process
	// exits unexpectedly or fails to restart; err wraps ErrExited on exit.
	OnExit       func(id string, err error)
	MinBackoff   time.Duration // first restart delay, default 500ms
	MaxBackoff   time.Duration // cap on the delay, default 30s
	StableAfter  time.Duration // uptime that resets the delay, default 60s
	PollInterval time.Duration // liveness check of adopted processes, default 500ms
	StopTimeout  time.Duration // SIGTERM to SIGKILL, default 10s
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.MinBackoff = orDefault(o.MinBackoff, 500*time.Millisecond)
	o.MaxBackoff = max(orDefault(o.MaxBackoff, 30*time.Second), o.MinBackoff)
	o.StableAfter = orDefault(o.StableAfter, 60*time.Second)
	o.PollInterval = orDefault(o.PollInterval, 500*time.Millisecond)
	o.StopTimeout = orDefault(o.StopTimeout, 10*time.Second)
	return o
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Runtime runs and supervises local processes that outlive it.
type Runtime struct {
	opts  Options
	log   *slog.Logger
	locks idLocks // serialises Ensure and Stop per ID
	wg    sync.WaitGroup

	mu     sync.Mutex
	procs  map[string]*supervised
	closed bool
}

// New returns a Runtime. It starts nothing until Ensure is called.
func New(o Options) *Runtime {
	o = o.withDefaults()
	return &Runtime{opts: o, log: o.Logger, procs: map[string]*supervised{}}
}

// Ensure makes sure the process described by s runs and is supervised: it
// returns the current status if already supervised, adopts a live process
// from the pid file when its spec matches, replaces it when the spec
// changed, and starts it otherwise.
func (r *Runtime) Ensure(ctx context.Context, s Spec) (Status, error) {
	if err := s.validateStart(); err != nil {
		return Status{}, err
	}
	unlock := r.locks.lock(s.ID)
	defer unlock()
	if err := r.usable(ctx); err != nil {
		return Status{}, fmt.Errorf("ensuring %s: %w", s.ID, err)
	}
	hash := s.hash()
	if sv := r.lookup(s.ID); sv != nil {
		if sv.hash == hash && sv.spec.pidPath() == s.pidPath() {
			return sv.snapshot(), nil
		}
		r.log.Info("spec changed, restarting process", "id", s.ID)
		if err := r.stop(ctx, sv.spec); err != nil {
			return Status{}, fmt.Errorf("ensuring %s: %w", s.ID, err)
		}
	}
	inst, err := r.adoptOrStart(ctx, s, hash)
	if err != nil {
		return Status{}, fmt.Errorf("ensuring %s: %w", s.ID, err)
	}
	return r.superviseNew(s, hash, inst)
}

func (r *Runtime) usable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return ErrClosed
	}
	return nil
}

func (r *Runtime) lookup(id string) *supervised {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.procs[id]
}

// adoptOrStart consults the pid file left by an earlier incarnation of
// cellplane before starting anything, so a restart of cellplane never
// restarts etcd or kube-apiserver.
func (r *Runtime) adoptOrStart(ctx context.Context, s Spec, hash string) (*instance, error) {
	pf, err := readPIDFile(s.pidPath())
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		// Writes are atomic, so this is damage from outside; a pid file we
		// cannot read cannot lead us to the process either.
		r.log.Warn("ignoring unreadable pid file", "id", s.ID, "err", err)
	case pf.alive() && pf.SpecHash == hash:
		r.log.Info("adopted running process", "id", s.ID, "pid", pf.PID)
		r.placeAdopted(s, pf.PID)
		return adoptedInstance(pf), nil
	case pf.alive():
		r.log.Info("spec changed, replacing running process", "id", s.ID, "pid", pf.PID)
		if err := r.terminate(ctx, s.ID, pf, r.opts.StopTimeout); err != nil {
			return nil, err
		}
	}
	if orphan, ok := findOrphan(s); ok {
		if err := writePIDFile(s.pidPath(), orphan); err != nil {
			return nil, fmt.Errorf("recording orphan of %s: %w", s.ID, err)
		}
		r.log.Info("adopted running process that had no pid file", "id", s.ID, "pid", orphan.PID)
		r.placeAdopted(s, orphan.PID)
		return adoptedInstance(orphan), nil
	}
	inst, err := start(s)
	if err != nil {
		return nil, err
	}
	r.log.Info("started process", "id", s.ID, "pid", inst.pid)
	return inst, nil
}

// placeAdopted moves an adopted process into its cgroup, the one isolation
// that reaches a running process without restarting it. A failure leaves the
// process serving where it is, which beats restarting a tenant's control
// plane, so it is only logged.
func (r *Runtime) placeAdopted(s Spec, pid int) {
	if s.Cgroup == nil {
		return
	}
	if err := s.Cgroup.AddProcess(pid); err != nil {
		r.log.Warn("adopted process stays outside its cgroup", "id", s.ID, "pid", pid, "err", err)
	}
}

// superviseNew registers inst and starts its supervisor. After Close the
// process is left running, unsupervised, for the next Runtime to adopt.
func (r *Runtime) superviseNew(s Spec, hash string, inst *instance) (Status, error) {
	ctx, cancel := context.WithCancel(context.Background())
	sv := &supervised{spec: s, hash: hash, cancel: cancel, done: make(chan struct{})}
	sv.started(inst, false)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		cancel()
		return sv.snapshot(), fmt.Errorf("ensuring %s: %w", s.ID, ErrClosed)
	}
	r.procs[s.ID] = sv
	r.wg.Add(1)
	go r.supervise(ctx, sv, inst)
	return sv.snapshot(), nil
}

// Stop stops supervising s, terminates its process (SIGTERM, then SIGKILL
// after StopTimeout) and removes the pid file. It needs only the pid file,
// so it also stops processes started by an earlier cellplane, and it works
// after Close. A missing pid file or a dead process counts as success; the
// log file is kept for the caller to delete with its directories.
func (r *Runtime) Stop(ctx context.Context, s Spec) error {
	if err := s.validate(); err != nil {
		return err
	}
	unlock := r.locks.lock(s.ID)
	defer unlock()
	return r.stop(ctx, s)
}

func (r *Runtime) stop(ctx context.Context, s Spec) error {
	// Supervision ends first, so the exit we cause is not seen as a crash.
	r.unsupervise(s.ID)
	pf, err := readPIDFile(s.pidPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		r.log.Warn("removing unreadable pid file", "id", s.ID, "err", err)
		return removePIDFile(s.pidPath())
	}
	timeout := r.opts.StopTimeout
	if s.StopTimeout > 0 {
		timeout = s.StopTimeout
	}
	if err := r.terminate(ctx, s.ID, pf, timeout); err != nil {
		return err
	}
	r.log.Info("stopped process", "id", s.ID, "pid", pf.PID)
	return removePIDFile(s.pidPath())
}

// unsupervise cancels the supervisor of id and waits for it, so it cannot
// start a new process behind the caller's back.
func (r *Runtime) unsupervise(id string) {
	r.mu.Lock()
	sv := r.procs[id]
	delete(r.procs, id)
	r.mu.Unlock()
	if sv != nil {
		sv.cancel()
		<-sv.done
	}
}

// Status returns the status of a process supervised by this Runtime.
func (r *Runtime) Status(id string) (Status, bool) {
	sv := r.lookup(id)
	if sv == nil {
		return Status{}, false
	}
	return sv.snapshot(), true
}

// Close stops all supervision and returns. It never signals a process:
// leaving them running is what lets the control planes outlive cellplane.
func (r *Runtime) Close() {
	r.mu.Lock()
	r.closed = true
	procs := r.procs
	r.procs = map[string]*supervised{}
	r.mu.Unlock()
	for _, sv := range procs {
		sv.cancel()
	}
	r.wg.Wait()
}

// idLocks hands out one mutex per ID, so slow work for one process (a
// graceful stop can take StopTimeout) never blocks the others.
type idLocks struct {
	mu sync.Mutex
	m  map[string]*idLock
}

type idLock struct {
	sync.Mutex
	refs int
}

func (l *idLocks) lock(id string) (unlock func()) {
	l.mu.Lock()
	if l.m == nil {
		l.m = map[string]*idLock{}
	}
	e := l.m[id]
	if e == nil {
		e = &idLock{}
		l.m[id] = e
	}
	e.refs++
	l.mu.Unlock()
	e.Lock()
	return func() { l.release(id, e) }
}

func (l *idLocks) release(id string, e *idLock) {
	e.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if e.refs--; e.refs == 0 {
		delete(l.m, id)
	}
}

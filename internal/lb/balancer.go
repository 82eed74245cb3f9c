package lb

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// ErrStarted is returned by Start on a Balancer started or closed before.
var ErrStarted = errors.New("load balancer already started")

// Balancer serves every endpoint file of a config directory.
type Balancer struct {
	cfg    Config
	log    *slog.Logger
	wg     sync.WaitGroup
	limits *connLimits

	mu       sync.Mutex
	ctx      context.Context // done once closed; parent of every endpoint
	cancel   context.CancelFunc
	sources  map[string]*source
	started  bool
	closed   bool
	dirError bool // the directory was unreadable at the last reload
	// stopWatch unregisters the Close that Start hooks on its context.
	stopWatch func() bool

	statusLn  net.Listener
	statusSrv *http.Server

	closeOnce sync.Once
	closeErr  error
}

// New validates cfg and returns a Balancer that serves nothing until Start.
func New(cfg Config) (*Balancer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	return &Balancer{cfg: cfg, log: cfg.Logger, limits: newConnLimits(cfg), sources: make(map[string]*source)}, nil
}

// Run serves cfg until ctx is done, reloading at once on SIGHUP, and then
// closes every listener and connection. It is a process's entry point: it
// raises the process's open file limit to what the connection caps need.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	b, err := New(fitFileLimit(cfg.withDefaults()))
	if err != nil {
		return err
	}
	// Subscribe before Start so that a SIGHUP sent as soon as the endpoints
	// are up cannot take the default action and kill the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if err := b.Start(ctx); err != nil {
		return err
	}
	b.reloadOnSignal(ctx, hup)
	return b.Close()
}

func (b *Balancer) reloadOnSignal(ctx context.Context, hup <-chan os.Signal) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			b.log.Info("reloading on SIGHUP")
			b.Reload()
		}
	}
}

// Start loads the config directory, starts the status server and the reload
// loop, and returns. The Balancer runs until Close or until ctx is done. Only
// a status server that cannot listen fails Start: endpoint problems are
// logged and retried, so one bad file never keeps the others down.
func (b *Balancer) Start(ctx context.Context) error {
	if err := b.markStarted(ctx); err != nil {
		return err
	}
	if err := b.startStatus(); err != nil {
		return errors.Join(err, b.Close())
	}
	b.Reload()
	b.wg.Go(b.reloadLoop)
	// Registered last: if ctx is already done, Close runs at once and must
	// find every goroutine of Start already counted in wg.
	stop := context.AfterFunc(ctx, func() { _ = b.Close() })
	b.mu.Lock()
	b.stopWatch = stop
	b.mu.Unlock()
	return nil
}

func (b *Balancer) markStarted(ctx context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started || b.closed {
		return ErrStarted
	}
	b.started = true
	b.ctx, b.cancel = context.WithCancel(ctx)
	return nil
}

func (b *Balancer) startStatus() error {
	if b.cfg.StatusAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", b.cfg.StatusAddr)
	if err != nil {
		return fmt.Errorf("starting status server: %w", err)
	}
	ln = b.cfg.StatusTLS.listen(ln)
	b.statusLn = ln
	b.statusSrv = &http.Server{Handler: b.statusHandler(), ReadHeaderTimeout: 5 * time.Second}
	b.wg.Go(func() { b.serveStatusHTTP(ln) })
	return nil
}

func (b *Balancer) serveStatusHTTP(ln net.Listener) {
	if err := b.statusSrv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		b.log.Error("status server stopped", "err", err)
	}
}

// StatusAddr returns the status server's bound address, or "" without one.
func (b *Balancer) StatusAddr() string {
	if b.statusLn == nil {
		return ""
	}
	return b.statusLn.Addr().String()
}

func (b *Balancer) reloadLoop() {
	t := time.NewTicker(b.cfg.ReloadInterval)
	defer t.Stop()
	for waitTick(b.ctx, t) {
		b.Reload()
	}
}

// Close stops every listener, health check and connection and waits for
// their goroutines. It is safe to call more than once, but not while Start
// is still running.
func (b *Balancer) Close() error {
	b.closeOnce.Do(func() { b.closeErr = b.shutdown() })
	return b.closeErr
}

func (b *Balancer) shutdown() error {
	b.closeEndpoints()
	var err error
	if b.statusSrv != nil {
		if cerr := b.statusSrv.Close(); cerr != nil {
			err = fmt.Errorf("closing status server: %w", cerr)
		}
	}
	b.wg.Wait()
	return err
}

func (b *Balancer) closeEndpoints() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	if b.cancel != nil {
		b.cancel()
	}
	if b.stopWatch != nil {
		b.stopWatch()
	}
	for _, src := range b.sources {
		src.close()
	}
}

// Status reports every endpoint file, sorted by id.
func (b *Balancer) Status() []EndpointStatus {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]EndpointStatus, 0, len(b.sources))
	for _, id := range sortedKeys(b.sources) {
		out = append(out, b.sources[id].status())
	}
	return out
}

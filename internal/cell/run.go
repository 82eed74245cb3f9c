package cell

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/etcdconn"
	"github.com/cellplane/cellplane/internal/cell/secrets"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/cell/zones"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/logging"
	"github.com/cellplane/cellplane/internal/runtime/process"
	"github.com/cellplane/cellplane/internal/store"
	"github.com/cellplane/cellplane/internal/zapslog"
)

// StopTimeout is how long a cell process gets to stop its controllers and
// its store when asked to.
const StopTimeout = 60 * time.Second

// controllerRestartDelay spaces rebuilds of a cell's controllers after they stop
// on an error (the region unreachable for longer than a cache may wait).
const controllerRestartDelay = 5 * time.Second

// Run runs one cell until ctx ends: its store, its load balancer, the
// controllers that run its clusters and the agent that syncs it with the region.
// It is its own process so that the cell keeps healing its clusters while the
// region (or cellplane up) is down, and a crash in one cell touches no other.
// On return the cell's store is stopped; tenant control planes and the load
// balancer keep running.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.Tuning = cfg.Tuning.WithDefaults()
	in, err := datadir.LoadInstance(cfg.DataDir, "", 0, nil)
	if err != nil {
		return err
	}
	block, err := in.Block()
	if err != nil {
		return err
	}
	if cfg.Index < 1 || cfg.Index > in.Cells {
		return fmt.Errorf("%w: cell %d does not exist; the data directory has cells 1 to %d", errdefs.ErrInvalidConfig, cfg.Index, in.Cells)
	}
	name, dir := datadir.CellName(cfg.Index), datadir.CellDir(cfg.DataDir, cfg.Index)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating cell directory: %w", err)
	}
	lock, err := datadir.Lock(dir)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer lock.Close() //nolint:errcheck // the kernel drops the lock as the process ends anyway
	p := &proc{cfg: cfg, name: name, dir: dir, addrs: block.Cell(cfg.Index), block: block,
		log: cfg.Logger.With("cell", name), exits: make(chan event.GenericEvent, 256), namespaces: in.ZoneNamespaces}
	return p.run(ctx)
}

// proc is a running cell.
type proc struct {
	cfg        Config
	name, dir  string
	addrs      ipam.Cell
	block      ipam.Block
	log        *slog.Logger
	runtime    *process.Runtime
	cache      *components.Cache
	store      *store.Store
	exits      chan event.GenericEvent
	shifts     *zones.Shifts
	pool       *etcdconn.Pool
	namespaces bool
	// zoneNet is the zones' network: faults and health; zoneNS the zones'
	// namespaces (nil on loopback); zoneNetClose ends this process's part of
	// the zone network (latency lines), leaving namespaces to the members.
	zoneNet      *zones.Network
	zoneNS       map[string]string
	zoneNetClose func()
	// exe is cellplane's executable and secrets the cluster's keys for
	// Secrets, both set with the controllers.
	exe     string
	secrets *secrets.Keys
	// isolation is what keeps clusters' processes apart; nil without root.
	isolation *tenant.Isolation
	// signIn is the cell's sign-in server, which every API server calls.
	signIn *controlplane.SignIn
}

func (p *proc) lbDir() string { return filepath.Join(p.dir, "lb", "endpoints") }
func (p *proc) lbStatusAddr() string {
	return ipam.HostPort(p.addrs.StoreIP(), ipam.LoadBalancerStatusPort)
}

func (p *proc) run(ctx context.Context) error {
	p.cache = components.New(components.Config{CacheDir: p.cfg.CacheDir})
	etcd, err := p.cache.Etcd(ctx)
	if err != nil {
		return err
	}
	kube, err := p.cache.Kubernetes(ctx, components.Default())
	if err != nil {
		return err
	}
	if p.shifts, err = zones.Load(filepath.Join(p.dir, "zone-shifts.json"), p.log); err != nil {
		return err
	}
	p.runtime = process.New(process.Options{Logger: p.log, OnExit: p.onExit})
	defer p.runtime.Close()
	if p.isolation, err = tenant.DetectIsolation(); err != nil {
		p.log.Warn("tenant isolation limited", "err", err)
	}
	if p.isolation != nil && p.cfg.Tuning.TenantCPUMax != 0 {
		// The operator's cap holds in every state of a cluster.
		p.isolation.Limits.CPUMaxMilli = p.cfg.Tuning.tenantCPUMaxMilli()
		p.isolation.SettledCPUMaxMilli = 0
	}
	// The etcd clients' own warnings (a member unreachable, a stream broken)
	// go to the cell's log.
	p.pool = etcdconn.New(zapslog.New(p.log.With("component", "etcd-client")))
	defer p.pool.Close()
	st, err := store.Start(ctx, store.Config{Name: p.name, Dir: filepath.Join(p.dir, "store"), IP: p.addrs.StoreIP(),
		Etcd: etcd.Etcd, APIServer: kube.KubeAPIServer, Runner: p.runtime})
	if err != nil {
		return err
	}
	p.store = st
	defer p.stopStore()
	if err := p.startLB(ctx); err != nil {
		return err
	}
	if err := p.startZones(); err != nil {
		return err
	}
	if p.zoneNetClose != nil {
		defer p.zoneNetClose()
	}
	if err := p.startSignIn(ctx); err != nil {
		return err
	}
	p.log.Info("cell is up", "store", st.RESTConfig().Host, "pid", os.Getpid(), "zoneNamespaces", p.zoneNS != nil)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { p.zoneNet.RunMonitor(gctx, p.shifts); return nil })
	g.Go(func() error { return p.keepRunning(gctx, "cluster controllers", p.controllers) })
	g.Go(func() error { return p.keepRunning(gctx, "region agent", p.agent) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	p.log.Info("cell stopping; tenant control planes keep running")
	return err
}

func (p *proc) stopStore() {
	ctx, cancel := context.WithTimeout(context.Background(), StopTimeout)
	defer cancel()
	if err := p.store.Stop(ctx); err != nil {
		p.log.Error("stopping cell store", "err", err)
	}
}

// keepRunning runs a manager built by build until ctx ends, building a fresh one
// whenever it stops on an error: a manager cannot be started twice, and a cell
// must never stop healing because the region was away too long.
func (p *proc) keepRunning(ctx context.Context, what string, build func() (manager.Manager, error)) error {
	for {
		mgr, err := build()
		if err == nil {
			err = mgr.Start(ctx)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p.log.Error(what+" stopped; starting them again", "err", err, "in", controllerRestartDelay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(controllerRestartDelay):
		}
	}
}

// startLB runs the cell's load balancer as its own process, so tenants' endpoints
// keep serving while the cell's controllers are down.
func (p *proc) startLB(ctx context.Context) error {
	if err := os.MkdirAll(p.lbDir(), 0o700); err != nil {
		return fmt.Errorf("creating load balancer config: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding cellplane executable: %w", err)
	}
	cert, key, ca := p.store.LoadBalancerStatusTLS()
	args := []string{"lb", "--config-dir", p.lbDir(), "--status-addr", p.lbStatusAddr(),
		"--status-cert", cert, "--status-key", key, "--status-client-ca", ca}
	spec := process.Spec{
		ID:       p.name + "/lb",
		Path:     exe,
		Args:     append(args, p.cfg.Tuning.LB.args("")...),
		Dir:      filepath.Join(p.dir, "lb"),
		StateDir: filepath.Join(p.dir, "lb"),
		Name:     "lb",
	}
	if _, err := p.runtime.Ensure(ctx, spec); err != nil {
		return fmt.Errorf("%s: starting load balancer: %w", p.name, err)
	}
	return nil
}

func (p *proc) newManager(cfg *rest.Config) (manager.Manager, error) {
	sc, err := store.Scheme()
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 sc,
		Logger:                 logging.Quiet(p.log),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// keepRunning builds the same controllers again after a failure; their
		// names are unique within each manager, which is all that matters here.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	return mgr, nil
}

// storeClient is a direct client of the cell's store.
func (p *proc) storeClient() (client.Client, error) {
	sc, err := store.Scheme()
	if err != nil {
		return nil, err
	}
	cl, err := client.New(p.store.RESTConfig(), client.Options{Scheme: sc})
	if err != nil {
		return nil, fmt.Errorf("connecting to the cell store: %w", err)
	}
	return cl, nil
}

// onExit turns a crashed tenant process into a reconcile of its cluster.
func (p *proc) onExit(id string, _ error) {
	ev, ok := exitEvent(id)
	if !ok {
		return
	}
	select {
	case p.exits <- ev:
	default: // the periodic poll catches it
	}
}

// exitEvent maps a tenant process ID ("<namespace>/<name>/<member>") to its cluster.
func exitEvent(id string) (event.GenericEvent, bool) {
	parts := strings.Split(id, "/")
	if len(parts) != 3 {
		return event.GenericEvent{}, false
	}
	obj := &v1alpha1.Cluster{}
	obj.Namespace, obj.Name = parts[0], parts[1]
	return event.GenericEvent{Object: obj}, true
}

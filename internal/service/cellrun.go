package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	cellctl "github.com/cellplane/cellplane/internal/cell"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/runtime/process"
	"github.com/cellplane/cellplane/internal/store"
)

// CellConfig configures one cell's own process.
type CellConfig struct {
	// DataDir is the service's data directory; the cell keeps its state under
	// DataDir/cells/cell-<Index>.
	DataDir string
	// Index is the cell's number, from 1.
	Index int
	// CacheDir is the component cache; empty means components.DefaultCacheDir().
	CacheDir string
	// CreateTimeout bounds how long a control plane may take to become healthy.
	CreateTimeout time.Duration
	// Backup says where the cell keeps its clusters' backups.
	Backup BackupConfig
	Logger *slog.Logger
}

// cellStopTimeout is how long a cell process gets to stop its controllers and
// its store when asked to.
const cellStopTimeout = 60 * time.Second

// controllerRestartDelay spaces rebuilds of a cell's controllers after they stop
// on an error (the region unreachable for longer than a cache may wait).
const controllerRestartDelay = 5 * time.Second

// RunCell runs one cell until ctx ends: its store, its load balancer, the
// controllers that run its clusters and the agent that syncs it with the region.
// It is its own process so that the cell keeps healing its clusters while the
// region (or cellplane up) is down, and a crash in one cell touches no other.
// On return the cell's store is stopped; tenant control planes and the load
// balancer keep running.
func RunCell(ctx context.Context, cfg CellConfig) error {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	in, err := loadInstance(cfg.DataDir, "", 0, nil)
	if err != nil {
		return err
	}
	block, err := ipam.ParseBlock(in.AddressBlock, in.Cells)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if cfg.Index < 1 || cfg.Index > in.Cells {
		return fmt.Errorf("%w: cell %d does not exist; the data directory has cells 1 to %d", ErrInvalidConfig, cfg.Index, in.Cells)
	}
	c := newCell(cfg.DataDir, block, cfg.Index)
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("creating cell directory: %w", err)
	}
	lock, err := lockDataDir(c.dir)
	if err != nil {
		return fmt.Errorf("%s: %w", c.name, err)
	}
	defer lock.Close()
	cp := &cellProcess{cfg: cfg, cell: c, block: block, log: cfg.Logger.With("cell", c.name),
		exits: make(chan event.GenericEvent, 256), namespaces: in.ZoneNamespaces}
	return cp.run(ctx)
}

// cellProcess is a running cell.
type cellProcess struct {
	cfg     CellConfig
	cell    *cell
	block   ipam.Block
	log     *slog.Logger
	runtime *process.Runtime
	cache   *components.Cache
	exits   chan event.GenericEvent
	zones   *cellctl.ZoneShifts
	// zoneNet is the zones' network: faults and health; zoneNS the zones'
	// namespaces (nil on loopback); zoneNetClose ends this process's part of
	// the zone network (latency lines), leaving namespaces to the members.
	zoneNet      *cellctl.ZoneNetwork
	zoneNS       map[string]string
	zoneNetClose func()
	namespaces   bool
}

func (cp *cellProcess) run(ctx context.Context) error {
	cp.cache = components.New(components.Config{CacheDir: cp.cfg.CacheDir})
	etcd, err := cp.cache.Etcd(ctx)
	if err != nil {
		return err
	}
	kube, err := cp.cache.Kubernetes(ctx, components.Default())
	if err != nil {
		return err
	}
	if cp.zones, err = cellctl.LoadZoneShifts(filepath.Join(cp.cell.dir, "zone-shifts.json"), cp.log); err != nil {
		return err
	}
	cp.runtime = process.New(process.Options{Logger: cp.log, OnExit: cp.onExit})
	defer cp.runtime.Close()
	st, err := store.Start(ctx, store.Config{Name: cp.cell.name, Dir: filepath.Join(cp.cell.dir, "store"), IP: cp.cell.plan.StoreIP(),
		Etcd: etcd.Etcd, APIServer: kube.KubeAPIServer, Runner: cp.runtime, Logger: cp.log})
	if err != nil {
		return err
	}
	cp.cell.store = st
	defer func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), cellStopTimeout)
		defer cancel()
		if err := st.Stop(stopCtx); err != nil {
			cp.log.Error("stopping cell store", "err", err)
		}
	}()
	if err := cp.startLB(ctx); err != nil {
		return err
	}
	sc, err := newScheme()
	if err != nil {
		return err
	}
	storeClient, err := client.New(st.RESTConfig(), client.Options{Scheme: sc})
	if err != nil {
		return fmt.Errorf("connecting to the cell store: %w", err)
	}
	if cp.zoneNS, err = cp.startZones(cp.namespaces, storeClient); err != nil {
		return err
	}
	if cp.zoneNetClose != nil {
		defer cp.zoneNetClose()
	}
	cp.log.Info("cell is up", "store", st.RESTConfig().Host, "pid", os.Getpid(), "zoneNamespaces", cp.zoneNS != nil)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { cp.zoneNet.RunMonitor(gctx, cp.zones); return nil })
	g.Go(func() error { return cp.keepRunning(gctx, "cluster controllers", cp.controllers) })
	g.Go(func() error { return cp.keepRunning(gctx, "region agent", cp.agent) })
	err = g.Wait()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	cp.log.Info("cell stopping; tenant control planes keep running")
	return err
}

// keepRunning runs a manager built by build until ctx ends, building a fresh one
// whenever it stops on an error: a manager cannot be started twice, and a cell
// must never stop healing because the region was away too long.
func (cp *cellProcess) keepRunning(ctx context.Context, what string, build func() (manager.Manager, error)) error {
	for {
		mgr, err := build()
		if err == nil {
			err = mgr.Start(ctx)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		cp.log.Error(what+" stopped; starting them again", "err", err, "in", controllerRestartDelay)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(controllerRestartDelay):
		}
	}
}

// startLB runs the cell's load balancer as its own process, so tenants' endpoints
// keep serving while the cell's controllers are down.
func (cp *cellProcess) startLB(ctx context.Context) error {
	c := cp.cell
	if err := os.MkdirAll(c.lbDir(), 0o700); err != nil {
		return fmt.Errorf("creating load balancer config: %w", err)
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding cellplane executable: %w", err)
	}
	spec := process.Spec{
		ID:       c.name + "/lb",
		Path:     exe,
		Args:     []string{"lb", "--config-dir", c.lbDir(), "--status-addr", c.lbStatusAddr()},
		Dir:      filepath.Join(c.dir, "lb"),
		StateDir: filepath.Join(c.dir, "lb"),
		Name:     "lb",
	}
	if _, err := cp.runtime.Ensure(ctx, spec); err != nil {
		return fmt.Errorf("%s: starting load balancer: %w", c.name, err)
	}
	return nil
}

// controllers builds the manager of the cluster controller. It reads and writes
// the cell's store only, never the region's.
func (cp *cellProcess) controllers() (manager.Manager, error) {
	mgr, err := cp.newManager(cp.cell.store.RESTConfig())
	if err != nil {
		return nil, err
	}
	c := cp.cell
	backups, err := cp.backupStorage()
	if err != nil {
		return nil, err
	}
	goaway, err := goawayChanceFromEnv()
	if err != nil {
		return nil, err
	}
	r := &cellctl.ClusterReconciler{
		Client: mgr.GetClient(), CellName: c.name, Cell: c.plan, Dir: c.dir, LBDir: c.lbDir(),
		Runner: cp.runtime, Binaries: cp.cache, Logger: cp.log, CreateTimeout: cp.cfg.CreateTimeout,
		Exits: cp.exits, Restore: backups, GoawayChance: goaway, Zones: cp.zones, ZoneNetNS: cp.zoneNS,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up cluster controller: %w", err)
	}
	if err := cp.setupEtcdCare(mgr); err != nil {
		return nil, fmt.Errorf("setting up etcd care: %w", err)
	}
	if err := cp.setupBackups(mgr, backups); err != nil {
		return nil, fmt.Errorf("setting up backups: %w", err)
	}
	return mgr, nil
}

// agent builds the manager that syncs the cell with the region: the clusters the
// region placed here, their status and kubeconfigs, and the cell's heartbeat.
func (cp *cellProcess) agent() (manager.Manager, error) {
	mgr, err := cp.newManager(cp.cell.store.RESTConfig())
	if err != nil {
		return nil, err
	}
	region, err := cluster.New(cp.regionConfig(), func(o *cluster.Options) {
		o.Scheme = mgr.GetScheme()
		o.Logger = quietLogr(cp.log)
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to region store: %w", err)
	}
	if err := mgr.Add(region); err != nil {
		return nil, err
	}
	a := &cellctl.Agent{Region: region, Cell: mgr.GetClient(), CellName: cp.cell.name, Logger: cp.log}
	if err := a.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up agent: %w", err)
	}
	hb := &cellctl.Heartbeat{
		Region: region.GetClient(), Cell: mgr.GetClient(), CellName: cp.cell.name, Logger: cp.log,
		Store: cp.cell.store.RESTConfig().Host, LoadBalancer: cp.cell.lbStatusAddr(), Zones: cp.zones, ZoneNet: cp.zoneNet,
	}
	if err := mgr.Add(hb); err != nil {
		return nil, err
	}
	return mgr, nil
}

func (cp *cellProcess) newManager(cfg *rest.Config) (manager.Manager, error) {
	sc, err := newScheme()
	if err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 sc,
		Logger:                 quietLogr(cp.log),
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

// regionConfig is the region store's admin configuration, read from the data
// directory: the cell needs nothing from the region's process to reach it.
func (cp *cellProcess) regionConfig() *rest.Config {
	return store.AdminConfig(filepath.Join(cp.cfg.DataDir, "region", "store"), cp.block.RegionIP())
}

// onExit turns a crashed tenant process into a reconcile of its cluster.
func (cp *cellProcess) onExit(id string, _ error) {
	ev, ok := exitEvent(id)
	if !ok {
		return
	}
	select {
	case cp.exits <- ev:
	default: // the periodic poll catches it
	}
}

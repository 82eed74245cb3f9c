package service

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/event"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/cellplane/cellplane/api/v1alpha1"
	cellctl "github.com/cellplane/cellplane/internal/cell"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/runtime/process"
	"github.com/cellplane/cellplane/internal/store"
)

// cell is one cell of the embedded default.
type cell struct {
	name  string
	dir   string
	plan  ipam.Cell
	store *store.Store
}

func (c *cell) lbDir() string { return filepath.Join(c.dir, "lb", "endpoints") }

func newScheme() (*runtime.Scheme, error) {
	sc := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sc); err != nil {
		return nil, err
	}
	return sc, v1alpha1.AddToScheme(sc)
}

// startCells starts each cell's load balancer and its controllers; ctx bounds the
// start, runCtx the controllers' lifetime.
func (s *Service) startCells(ctx, runCtx context.Context) error {
	for _, c := range s.cells {
		if err := s.startLB(ctx, c); err != nil {
			return err
		}
		mgr, err := s.cellManager(c)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name, err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.fatal(c.name+" controllers", mgr.Start(runCtx))
		}()
	}
	return nil
}

// startLB runs the cell's load balancer as its own process, so tenants' endpoints
// keep serving while cellplane is stopped.
func (s *Service) startLB(ctx context.Context, c *cell) error {
	if err := os.MkdirAll(c.lbDir(), 0o700); err != nil {
		return fmt.Errorf("creating load balancer config: %w", err)
	}
	cmd := s.cfg.LBCommand
	if len(cmd) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("finding cellplane executable: %w", err)
		}
		cmd = []string{exe, "lb"}
	}
	spec := process.Spec{
		ID:   c.name + "/lb",
		Path: cmd[0],
		Args: append(append([]string(nil), cmd[1:]...),
			"--config-dir", c.lbDir(), "--status-addr", ipam.HostPort(c.plan.StoreIP(), ipam.LoadBalancerStatusPort)),
		Dir:      filepath.Join(c.dir, "lb"),
		StateDir: filepath.Join(c.dir, "lb"),
		Name:     "lb",
	}
	if _, err := s.runtime.Ensure(ctx, spec); err != nil {
		return fmt.Errorf("%s: starting load balancer: %w", c.name, err)
	}
	return nil
}

func (s *Service) cellManager(c *cell) (ctrl.Manager, error) {
	sc, err := newScheme()
	if err != nil {
		return nil, err
	}
	log := s.cfg.Logger.With("cell", c.name)
	mgr, err := ctrl.NewManager(c.store.RESTConfig(), ctrl.Options{
		Scheme:                 sc,
		Logger:                 quietLogr(log),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return nil, fmt.Errorf("creating manager: %w", err)
	}
	region, err := cluster.New(s.region.RESTConfig(), func(o *cluster.Options) { o.Scheme = sc; o.Logger = quietLogr(log) })
	if err != nil {
		return nil, fmt.Errorf("connecting to region store: %w", err)
	}
	if err := mgr.Add(region); err != nil {
		return nil, err
	}
	return mgr, s.setupControllers(mgr, region, c, log)
}

func (s *Service) setupControllers(mgr ctrl.Manager, region cluster.Cluster, c *cell, log *slog.Logger) error {
	r := &cellctl.ClusterReconciler{
		Client: mgr.GetClient(), CellName: c.name, Cell: c.plan, Dir: c.dir, LBDir: c.lbDir(),
		Runner: s.runtime, Binaries: s.cache, Logger: log, CreateTimeout: s.cfg.CreateTimeout,
		Exits: s.exits,
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up cluster controller: %w", err)
	}
	a := &cellctl.Agent{Region: region, Cell: mgr.GetClient(), CellName: c.name, Logger: log}
	if err := a.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up agent: %w", err)
	}
	return nil
}

// quietLogr hands controller-runtime our logger, keeping only its warnings and
// errors: its info logs describe its own machinery, not the user's clusters.
func quietLogr(l *slog.Logger) logr.Logger {
	return logr.FromSlogHandler(&minLevel{Handler: l.Handler(), min: slog.LevelWarn})
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h *minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

// WithAttrs and WithGroup keep the filter on derived loggers.
func (h *minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return &minLevel{Handler: h.Handler.WithAttrs(as), min: h.min}
}

func (h *minLevel) WithGroup(name string) slog.Handler {
	return &minLevel{Handler: h.Handler.WithGroup(name), min: h.min}
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

package region

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/runtime/process"
	"github.com/cellplane/cellplane/internal/store"
)

// Service is a running cellplane.
type Service struct {
	cfg      Config
	block    ipam.Block
	lock     *os.File
	runtime  *process.Runtime
	cache    *components.Cache
	region   *store.Store
	cells    cellProcs
	api      *http.Server
	apiLn    net.Listener
	endpoint datadir.Endpoint
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	errc     chan error
}

// Start brings cellplane up on cfg.DataDir: it takes the directory's lock, builds
// missing components, starts or adopts the stores and load balancers, and serves
// the regional API. Tenant control planes that survived a previous run are adopted
// by the cell controllers, not restarted.
func Start(ctx context.Context, cfg Config) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	s := &Service{cfg: cfg, errc: make(chan error, 4)}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("creating data directory: %w", err)
	}
	var err error
	if s.lock, err = datadir.Lock(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		s.abort()
		return nil, err
	}
	return s, nil
}

// start runs the steps after the lock; Start undoes them if one fails.
func (s *Service) start(ctx context.Context) error {
	for _, step := range []func() error{s.loadInstance, s.claimAPIAddress, s.saveBackupConfig} {
		if err := step(); err != nil {
			return err
		}
	}
	if err := s.prepare(ctx); err != nil {
		return err
	}
	// Cells start their own stores meanwhile; they report once the region's is up.
	if err := s.cells.start(ctx); err != nil {
		return err
	}
	if err := s.startRegionStore(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	view, err := s.serveAPI(ctx, runCtx)
	if err != nil {
		return err
	}
	if err := s.startRollouts(runCtx); err != nil {
		return err
	}
	if err := s.cells.wait(ctx, view); err != nil {
		return err
	}
	return s.writeEndpoint()
}

// saveBackupConfig records where backups go for operator commands such as
// `cellplane backup list`, which run without the service.
func (s *Service) saveBackupConfig() error {
	return datadir.SaveBackupConfig(s.cfg.DataDir, s.cfg.Backup)
}

func (s *Service) loadInstance() error {
	in, err := datadir.LoadInstance(s.cfg.DataDir, s.cfg.AddressBlock, s.cfg.Cells, s.cfg.ZoneNamespaces)
	if err != nil {
		return err
	}
	if s.block, err = in.Block(); err != nil {
		return fmt.Errorf("data directory %s: %w", s.cfg.DataDir, err)
	}
	s.cells = cellProcs{cfg: s.cfg, n: in.Cells}
	return nil
}

// prepare makes sure the components are built and the runtime is ready.
func (s *Service) prepare(ctx context.Context) error {
	s.cache = components.New(components.Config{CacheDir: s.cfg.CacheDir, Progress: s.cfg.Progress})
	if _, err := s.cache.Etcd(ctx); err != nil {
		return err
	}
	if _, err := s.cache.Kubernetes(ctx, components.Default()); err != nil {
		return err
	}
	// kubectl is what the welcome message hands the user; hollow node groups run
	// kubemark. Built once, like the control plane.
	if _, err := s.cache.Tools(ctx, components.Default()); err != nil {
		return err
	}
	s.runtime = process.New(process.Options{Logger: s.cfg.Logger})
	s.cells.runtime = s.runtime
	return nil
}

// startRegionStore starts the region's store, or adopts it.
func (s *Service) startRegionStore(ctx context.Context) error {
	etcd, _ := s.cache.Etcd(ctx)
	kube, _ := s.cache.Kubernetes(ctx, components.Default())
	s.cfg.Logger.Info("starting the region store", "address", s.block.RegionIP().String(), "cells", s.cells)
	var err error
	s.region, err = store.Start(ctx, store.Config{Name: "region", Dir: datadir.RegionStoreDir(s.cfg.DataDir), IP: s.block.RegionIP(),
		Etcd: etcd.Etcd, APIServer: kube.KubeAPIServer, Runner: s.runtime})
	return err
}

func (s *Service) writeEndpoint() error { return datadir.WriteEndpoint(s.cfg.DataDir, s.endpoint) }

// Endpoint returns how to reach the regional API.
func (s *Service) Endpoint() datadir.Endpoint { return s.endpoint }

// Done delivers the first fatal error of a background part (a cell's controllers or the API).
func (s *Service) Done() <-chan error { return s.errc }

func (s *Service) fatal(what string, err error) {
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, http.ErrServerClosed) {
		select {
		case s.errc <- fmt.Errorf("%s: %w", what, err):
		default:
		}
	}
}

// Close stops cellplane: the API, the cells' processes (each stopping its
// controllers and store) and the region's store. Tenant control planes and the
// cells' load balancers keep running and serving, so the next Start adopts them.
func (s *Service) Close(ctx context.Context) error {
	// Gone or not, clients find no endpoint once the API below stops.
	_ = os.Remove(datadir.EndpointFile(s.cfg.DataDir))
	var errs []error
	if s.api != nil {
		errs = append(errs, s.api.Shutdown(ctx))
	}
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	if s.runtime != nil {
		errs = append(errs, s.cells.stop(ctx))
	}
	if s.region != nil {
		errs = append(errs, s.region.Stop(ctx))
	}
	s.runtime.Close()
	// Releasing the lock lets the next up start; the kernel would release it
	// as this process ends anyway.
	_ = s.lock.Close()
	return errors.Join(errs...)
}

// abort undoes a failed Start as far as it got, leaving tenant processes alone.
func (s *Service) abort() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if s.apiLn != nil && s.api == nil {
		_ = s.apiLn.Close() // never served; closing frees the address
	}
	if s.runtime == nil {
		_ = s.lock.Close() // as in Close
		return
	}
	_ = s.Close(ctx)
}

// CellCount is how many cells the service runs.
func (s *Service) CellCount() int { return s.cells.n }

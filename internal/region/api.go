package region

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"

	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/clusternames"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/internal/placement"
	regionapi "github.com/cellplane/cellplane/internal/region/api"
	"github.com/cellplane/cellplane/internal/sigv4"
	"github.com/cellplane/cellplane/internal/store"
)

// ErrAddressInUse is returned when another program holds the instance's addresses.
var ErrAddressInUse = errors.New("address in use")

// claimAPIAddress binds the regional API's address before anything else starts:
// if another instance uses the same address block, say so at once instead of
// letting its stores collide.
func (s *Service) claimAPIAddress() error {
	addr := ipam.HostPort(s.block.RegionIP(), ipam.RegionAPIPort)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: %s is taken, probably by a cellplane on another data directory; give this one another block with --address-block 127.N (%v)",
			ErrAddressInUse, addr, err)
	}
	s.apiLn = ln
	return nil
}

// serveAPI serves the regional API over HTTPS with a CA of its own, written to the
// data directory for clients. It returns the API's cache of the region store,
// which runs until runCtx ends.
func (s *Service) serveAPI(ctx, runCtx context.Context) (client.Reader, error) {
	sc, err := store.Scheme()
	if err != nil {
		return nil, err
	}
	cl, err := client.New(s.region.RESTConfig(), client.Options{Scheme: sc})
	if err != nil {
		return nil, fmt.Errorf("connecting to region store: %w", err)
	}
	if err := s.registerCells(ctx, cl); err != nil {
		return nil, err
	}
	accounts, err := s.accountStore(cl)
	if err != nil {
		return nil, err
	}
	api, err := NewRegionAPI(s.region.RESTConfig(), &sigv4.Verifier{Keys: accounts}, s.cfg.Logger)
	if err != nil {
		return nil, err
	}
	s.wg.Add(1)
	err = api.Start(ctx, runCtx, func(err error) {
		defer s.wg.Done()
		s.fatal("region cache", err)
	})
	if err != nil {
		return nil, err
	}
	if err := s.listenTLS(api.Handler); err != nil {
		return nil, err
	}
	return api.Cache, s.ensureFirstAccount(ctx, accounts)
}

// RegionAPI is the regional API's handler with the cache of the region store it
// lists and places from. Start must run before the handler serves.
type RegionAPI struct {
	Handler http.Handler
	Cache   cache.Cache
	tally   *placement.Tally
	names   *clusternames.Index
}

// NewRegionAPI composes the regional API on the region store that cfg reaches.
func NewRegionAPI(cfg *rest.Config, verifier *sigv4.Verifier, log *slog.Logger) (*RegionAPI, error) {
	sc, err := store.Scheme()
	if err != nil {
		return nil, err
	}
	cl, err := client.New(cfg, client.Options{Scheme: sc})
	if err != nil {
		return nil, fmt.Errorf("connecting to region store: %w", err)
	}
	c, err := cache.New(cfg, cache.Options{Scheme: sc, DefaultTransform: cache.TransformStripManagedFields()})
	if err != nil {
		return nil, fmt.Errorf("creating region cache: %w", err)
	}
	a := &RegionAPI{Cache: c, tally: placement.NewTally(), names: clusternames.New()}
	a.Handler, err = regionapi.NewHandler(regionapi.Config{
		Client: cl, Cache: c, Names: a.names, Placer: &placement.Placer{Cells: c, Tally: a.tally}, Logger: log, Verifier: verifier,
	})
	if err != nil {
		return nil, fmt.Errorf("creating regional API: %w", err)
	}
	return a, nil
}

// Start runs the cache until runCtx ends, then calls stopped with why; it
// returns once the cache and the indexes fed by it have synced.
func (a *RegionAPI) Start(ctx, runCtx context.Context, stopped func(error)) error {
	if _, err := a.Cache.GetInformer(ctx, &v1alpha1.Cell{}); err != nil {
		stopped(nil)
		return fmt.Errorf("watching cells: %w", err)
	}
	if err := errors.Join(a.tally.Watch(ctx, a.Cache), a.names.Watch(ctx, a.Cache)); err != nil {
		stopped(nil)
		return err
	}
	go func() { stopped(a.Cache.Start(runCtx)) }()
	synced := func() bool { return a.Cache.WaitForCacheSync(ctx) && a.tally.HasSynced() && a.names.HasSynced() }
	if !toolscache.WaitForCacheSync(ctx.Done(), synced) {
		return fmt.Errorf("region cache did not sync: %w", ctx.Err())
	}
	return nil
}

// accountStore keeps accounts in the region's store, secret keys encrypted under
// a master key that never leaves the data directory.
func (s *Service) accountStore(cl client.Client) (*account.Store, error) {
	key, err := account.LoadOrCreateMasterKey(datadir.MasterKeyFile(s.cfg.DataDir))
	if err != nil {
		return nil, fmt.Errorf("loading the account master key: %w", err)
	}
	return &account.Store{Client: cl, Key: key}, nil
}

func (s *Service) listenTLS(h http.Handler) error {
	dir := datadir.RegionDir(s.cfg.DataDir, "api")
	ip := s.block.RegionIP()
	ca, _, err := pki.EnsureCA(dir, "ca", "cellplane regional API CA")
	if err != nil {
		return fmt.Errorf("regional API CA: %w", err)
	}
	req := pki.CertRequest{CommonName: "cellplane-region", IPs: []net.IP{ip, net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}, Usage: pki.Server}
	if _, err := pki.EnsurePair(dir, "server", ca, req); err != nil {
		return fmt.Errorf("regional API certificate: %w", err)
	}
	addr := ipam.HostPort(ip, ipam.RegionAPIPort)
	ln := s.apiLn
	s.api = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.endpoint = datadir.Endpoint{URL: "https://" + addr, CAFile: filepath.Join(dir, "ca.crt"), PID: os.Getpid()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.fatal("regional API", s.api.ServeTLS(ln, filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")))
	}()
	return nil
}

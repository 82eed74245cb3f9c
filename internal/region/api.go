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

	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"

	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/apiguard"
	"github.com/cellplane/cellplane/internal/clusternames"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/iam"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/keycache"
	"github.com/cellplane/cellplane/internal/keyservice"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/internal/placement"
	"github.com/cellplane/cellplane/internal/ratelimit"
	regionapi "github.com/cellplane/cellplane/internal/region/api"
	"github.com/cellplane/cellplane/internal/region/upgrades"
	"github.com/cellplane/cellplane/internal/sessiontoken"
	"github.com/cellplane/cellplane/internal/sigv4"
	"github.com/cellplane/cellplane/internal/store"
	"github.com/cellplane/cellplane/internal/sts"
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
	s.publishSigningKeys(runCtx, cl, accounts)
	keys, err := CachedKeys(runCtx, s.region.RESTConfig(), accounts)
	if err != nil {
		return nil, err
	}
	verifier := &sigv4.Verifier{Keys: keys, Region: regionapi.DefaultRegion,
		Hosts: []string{ipam.HostPort(s.block.RegionIP(), ipam.RegionAPIPort)}}
	sealer, err := s.sessionSealer()
	if err != nil {
		return nil, err
	}
	api, err := NewRegionAPI(s.region.RESTConfig(), verifier, s.cfg.Logger, WithLimits(s.cfg.API.Limits), WithSTS(sealer))
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
	principals := &iam.Store{Client: cl, Accounts: accounts}
	if err := s.ensureFirstAccount(ctx, accounts); err != nil {
		return nil, err
	}
	return api.Cache, principals.EnsureAdmins(ctx)
}

// sessionSealer loads (or makes, on the first start) the keys that seal
// temporary credentials: the region key, which only this process reads, and
// the cell key, which cells are given to check sign-in tokens.
func (s *Service) sessionSealer() (*sessiontoken.Sealer, error) {
	regionKey, err := sessiontoken.LoadOrCreateKey(datadir.SessionRegionKeyFile(s.cfg.DataDir))
	if err != nil {
		return nil, fmt.Errorf("loading the session region key: %w", err)
	}
	cellKey, err := sessiontoken.LoadOrCreateKey(datadir.SessionCellKeyFile(s.cfg.DataDir))
	if err != nil {
		return nil, fmt.Errorf("loading the session cell key: %w", err)
	}
	return &sessiontoken.Sealer{RegionKey: regionKey, CellKey: cellKey, Region: regionapi.DefaultRegion}, nil
}

// CachedKeys puts the key cache in front of the account store, kept current
// by a watch of the keys until ctx ends: a key deactivated or deleted is
// refused as soon as the watch reports it, and a broken watch empties the
// cache rather than let it keep what it may have missed.
func CachedKeys(ctx context.Context, cfg *rest.Config, accounts *account.Store) (*keycache.Cache, error) {
	keys := keycache.New(keycache.Config{Store: accounts})
	_, err := account.WatchKeys(ctx, cfg, account.KeyEvents{Changed: keys.Invalidate, Lost: keys.Purge})
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// RegionAPI is the regional API's handler with the cache of the region store it
// lists and places from. Start must run before the handler serves.
type RegionAPI struct {
	Handler http.Handler
	Cache   cache.Cache
	tally   *placement.Tally
	names   *clusternames.Index
	binder  *keyservice.Binder
	// endOfSupport upgrades clusters past the end of their minor's support.
	endOfSupport *upgrades.EndOfSupport
}

// APIOption adjusts the regional API NewRegionAPI composes.
type APIOption func(*apiOptions)

type apiOptions struct {
	eks    regionapi.Config
	sealer *sessiontoken.Sealer
}

// WithLimits throttles sources and accounts over the limits; without it the
// API sets none (benchmarks measure it that way).
func WithLimits(c ratelimit.Config) APIOption {
	return func(o *apiOptions) { o.eks.Limiter = ratelimit.New(c) }
}

// WithSTS serves STS, issuing temporary credentials sealed by sealer, and
// makes every API accept them; without it the API serves no STS and
// refuses session tokens.
func WithSTS(sealer *sessiontoken.Sealer) APIOption {
	return func(o *apiOptions) { o.sealer = sealer }
}

// NewRegionAPI composes the regional API on the region store that cfg reaches.
func NewRegionAPI(cfg *rest.Config, verifier *sigv4.Verifier, log *slog.Logger, opts ...APIOption) (*RegionAPI, error) {
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
	keys := &keyservice.Store{Client: cl, Region: regionapi.DefaultRegion}
	principals := &iam.Store{Client: cl, Accounts: &account.Store{Client: cl}}
	o := apiOptions{eks: regionapi.Config{
		Client: cl, Cache: c, Names: a.names, Placer: &placement.Placer{Cells: c, Tally: a.tally}, Logger: log,
		Keys: keys, Principals: principals,
	}}
	for _, opt := range opts {
		opt(&o)
	}
	if o.sealer != nil && verifier != nil {
		v := *verifier
		v.Sessions = o.sealer
		verifier = &v
	}
	o.eks.Verifier = verifier
	eksHandler, err := regionapi.NewHandler(o.eks)
	if err != nil {
		return nil, fmt.Errorf("creating regional API: %w", err)
	}
	if a.endOfSupport, err = regionapi.NewEndOfSupport(o.eks); err != nil {
		return nil, fmt.Errorf("creating the end-of-support upgrades: %w", err)
	}
	a.binder = &keyservice.Binder{Client: cl, Keys: keys, Logger: log}
	services := serviceRoutes{
		kms: keyService(keys, a.binder, verifier, o.eks.Limiter, log),
		eks: eksHandler,
	}
	if o.sealer != nil && verifier != nil {
		services.sts = stsService(principals, o.sealer, verifier, o.eks.Limiter, log)
	}
	a.Handler = services
	return a, nil
}

// serviceRoutes is the regional API's one routing point: the AWS services
// it serves share its address, as a region's endpoints would share a host,
// and each request goes to the one it is for. KMS calls name their
// operation in X-Amz-Target; STS calls are signed for "sts" (or, unsigned,
// are form POSTs to /); everything else is EKS's.
type serviceRoutes struct{ kms, sts, eks http.Handler }

func (s serviceRoutes) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case keyservice.IsKMS(r):
		s.kms.ServeHTTP(w, r)
	case s.sts != nil && sts.IsSTS(r):
		s.sts.ServeHTTP(w, r)
	default:
		s.eks.ServeHTTP(w, r)
	}
}

// stsService is STS behind the same guard as the other APIs, its
// signatures scoped to the service "sts".
func stsService(p *iam.Store, sealer *sessiontoken.Sealer, verifier *sigv4.Verifier, l *ratelimit.Limiter, log *slog.Logger) http.Handler {
	v := *verifier
	v.Service = sts.SigningName
	h := &sts.Handler{Principals: p, Sealer: sealer, Logger: log}
	return apiguard.Guard(h, &v, l, sts.WriteError(log))
}

// keyService is the key service's KMS API behind the same guard as the EKS
// API's, its signatures scoped to the service "kms", as AWS's are.
func keyService(keys *keyservice.Store, b *keyservice.Binder, verifier *sigv4.Verifier, l *ratelimit.Limiter, log *slog.Logger) http.Handler {
	h := &keyservice.Handler{Keys: keys, Binder: b, Logger: log}
	var v *sigv4.Verifier
	if verifier != nil {
		kv := *verifier
		kv.Service = keyservice.SigningName
		v = &kv
	} else {
		h.DefaultAccount = v1alpha1.DefaultAccount
	}
	return apiguard.Guard(h, v, l, keyservice.WriteError(log))
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
	// Copies key changes an interrupted call left uncopied into their clusters.
	go a.binder.Run(runCtx, keyservice.DefaultResyncInterval)
	synced := func() bool { return a.Cache.WaitForCacheSync(ctx) && a.tally.HasSynced() && a.names.HasSynced() }
	if !toolscache.WaitForCacheSync(ctx.Done(), synced) {
		return fmt.Errorf("region cache did not sync: %w", ctx.Err())
	}
	go a.endOfSupport.Run(runCtx)
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
	s.api = s.cfg.API.Server(h)
	s.endpoint = datadir.Endpoint{URL: "https://" + addr, CAFile: filepath.Join(dir, "ca.crt"), PID: os.Getpid()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.fatal("regional API", s.api.ServeTLS(ln, filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")))
	}()
	return nil
}

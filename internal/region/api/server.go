package api

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/apiguard"
	"github.com/cellplane/cellplane/internal/clusternames"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/freshness"
	"github.com/cellplane/cellplane/internal/quota"
	"github.com/cellplane/cellplane/internal/ratelimit"
	"github.com/cellplane/cellplane/internal/region/accessentries"
	"github.com/cellplane/cellplane/internal/region/accesslog"
	"github.com/cellplane/cellplane/internal/region/addons"
	"github.com/cellplane/cellplane/internal/region/certauthorities"
	"github.com/cellplane/cellplane/internal/region/identityproviders"
	"github.com/cellplane/cellplane/internal/region/nodegroups"
	"github.com/cellplane/cellplane/internal/region/upgrades"
	"github.com/cellplane/cellplane/internal/sigv4"
)

// DefaultRegion names the region in ARNs when Config.Region is empty.
const DefaultRegion = "local"

// PlatformVersion is reported as every cluster's EKS platformVersion.
const PlatformVersion = "cellplane.1"

// Config configures the regional API handler.
type Config struct {
	// Client reads and writes the region store.
	Client client.Client
	// Placer chooses the cell of each new cluster.
	Placer Placer
	// Names, when set, is the index ListClusters reads, fed by the region
	// cache: a live list of thousands of clusters per call would cost the store
	// more than any other request. Creates wait until their cluster shows in
	// it, so a caller lists what it created. Nil lists from Client.
	Names *clusternames.Index
	// Cache, when set, serves DescribeCluster from the region cache instead
	// of a store read, with read-your-writes for this API's own writes (see
	// freshness). Nil reads live.
	Cache client.Reader
	// MaxClusters is how many clusters an account may have unless the
	// operator set its own limit on it; quota.DefaultMaxClusters when zero.
	MaxClusters int
	// Region names the region in ARNs; DefaultRegion when empty.
	Region string
	// Logger receives the access log and internal errors; discarded when nil.
	Logger *slog.Logger
	// Verifier checks every request's SigV4 signature and names its account.
	// Nil serves everything as the default account (unit tests only).
	Verifier *sigv4.Verifier
	// Limiter throttles sources and accounts; nil sets no limits.
	Limiter *ratelimit.Limiter
	// Keys resolves the customer keys encryptionConfig names; nil refuses
	// encryptionConfig.
	Keys KeyResolver
	// Principals says which IAM users and roles exist, for access entries;
	// nil accepts every well-formed user or role ARN of the caller's account.
	Principals accessentries.Principals
}

// setDefaults fills the optional fields.
func (c *Config) setDefaults() {
	if c.Region == "" {
		c.Region = DefaultRegion
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if c.MaxClusters == 0 {
		c.MaxClusters = quota.DefaultMaxClusters
	}
}

// Validate reports a Config that cannot serve.
func (c *Config) Validate() error {
	switch {
	case c.Client == nil:
		return errors.New("a region store client is required")
	case c.Placer == nil:
		return errors.New("a placer is required")
	case c.MaxClusters < 0 || c.MaxClusters > quota.MaxClustersLimit:
		return fmt.Errorf("the default cluster limit must be from 0 to %d; got %d", quota.MaxClustersLimit, c.MaxClusters)
	}
	return nil
}

// server holds what every handler needs.
type server struct {
	store      client.Client
	cache      client.Reader // nil: reads are live
	names      *clusternames.Index
	placer     Placer
	region     string
	log        *slog.Logger
	quota      *quota.Clusters
	fresh      *freshness.Tracker
	keys       KeyResolver
	idps       *identityproviders.Operations
	entries    *accessentries.Operations
	cas        *certauthorities.Operations
	addons     *addons.Operations
	nodegroups *nodegroups.Operations
	upgrades   *upgrades.Operations
}

// NewHandler returns the regional API as an http.Handler, access log included.
func NewHandler(cfg Config) (http.Handler, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	return accesslog.Wrap(s.log, apiguard.Guard(s.routes(), cfg.Verifier, cfg.Limiter, s.authError)), nil
}

// NewEndOfSupport returns the loop that upgrades clusters past the end of
// their minor's support, over the same store and rules as the API.
func NewEndOfSupport(cfg Config) (*upgrades.EndOfSupport, error) {
	s, err := newServer(cfg)
	if err != nil {
		return nil, err
	}
	return &upgrades.EndOfSupport{Ops: s.upgrades, List: func(ctx context.Context) ([]v1alpha1.Cluster, error) {
		var l v1alpha1.ClusterList
		if err := s.store.List(ctx, &l); err != nil {
			return nil, fmt.Errorf("listing clusters: %w", err)
		}
		return l.Items, nil
	}}, nil
}

func newServer(cfg Config) (*server, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuring regional API: %w", err)
	}
	s := &server{store: cfg.Client, cache: cfg.Cache, names: cfg.Names, placer: cfg.Placer, region: cfg.Region, log: cfg.Logger,
		quota: quota.NewClusters(indexOf(cfg.Names), cfg.Client, cfg.MaxClusters, cfg.Logger), fresh: freshness.New(), keys: cfg.Keys}
	s.idps = s.newIdentityProviders()
	s.entries = s.newAccessEntries(cfg.Principals)
	s.addons = s.newAddons()
	s.cas = s.newCertificateAuthorities()
	s.nodegroups = s.newNodegroups()
	s.upgrades = s.newUpgrades()
	return s, nil
}

// routes registers the operations. Each path is also registered without a
// method, so a wrong method gets an EKS-shaped 405 instead of net/http's plain
// text; "/" catches every other path.
func (s *server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /clusters", s.handle(s.createCluster))
	mux.HandleFunc("GET /clusters", s.handle(s.listClusters))
	mux.HandleFunc("/clusters", s.methodNotAllowed("GET, POST"))
	mux.HandleFunc("GET /clusters/{name}", s.handle(s.describeCluster))
	mux.HandleFunc("DELETE /clusters/{name}", s.handle(s.deleteCluster))
	mux.HandleFunc("/clusters/{name}", s.methodNotAllowed("GET, DELETE"))
	mux.HandleFunc("POST /clusters/{name}/update-config", s.handle(s.updateClusterConfig))
	mux.HandleFunc("/clusters/{name}/update-config", s.methodNotAllowed("POST"))
	mux.HandleFunc("GET /clusters/{name}/updates", s.handle(s.listUpdates))
	mux.HandleFunc("/clusters/{name}/updates", s.methodNotAllowed("GET, POST"))
	mux.HandleFunc("GET /clusters/{name}/updates/{updateId}", s.handle(s.describeUpdate))
	mux.HandleFunc("/clusters/{name}/updates/{updateId}", s.methodNotAllowed("GET"))
	mux.HandleFunc("POST /clusters/{name}/encryption-config/associate", s.handle(s.associateEncryptionConfig))
	mux.HandleFunc("/clusters/{name}/encryption-config/associate", s.methodNotAllowed("POST"))
	s.caRoutes(mux)
	s.accessRoutes(mux)
	s.idpRoutes(mux)
	s.addonRoutes(mux)
	s.nodegroupRoutes(mux)
	s.upgradeRoutes(mux)
	s.insightRoutes(mux)
	mux.HandleFunc("GET /cluster-versions", s.handle(s.describeClusterVersions))
	mux.HandleFunc("/cluster-versions", s.methodNotAllowed("GET"))
	// The ARN holds a slash ("cluster/<name>"): the SDKs escape it as %2F, which
	// one segment matches; the rest wildcard also takes it unescaped.
	mux.HandleFunc("GET /tags/{resourceArn...}", s.handle(s.listTags))
	mux.HandleFunc("POST /tags/{resourceArn...}", s.handle(s.tagResource))
	mux.HandleFunc("DELETE /tags/{resourceArn...}", s.handle(s.untagResource))
	mux.HandleFunc("/tags/{resourceArn...}", s.methodNotAllowed("GET, POST, DELETE"))
	mux.HandleFunc("GET /cellplane/clusters/{name}/kubeconfig", s.handle(s.kubeconfig))
	mux.HandleFunc("/cellplane/clusters/{name}/kubeconfig", s.methodNotAllowed("GET"))
	mux.HandleFunc("/", s.handle(unknownRoute))
	return mux
}

// operation serves one API call: it returns the 200 body or an error that the
// error table turns into a wire error.
type operation func(r *http.Request) (any, error)

// handle adapts an operation to net/http.
func (s *server) handle(op operation) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		out, err := op(r)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		s.writeJSON(w, r, http.StatusOK, out)
	}
}

// methodNotAllowed answers a known path called with a method it does not serve.
func (s *server) methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		s.writeError(w, r, errdefs.Publicf(errMethodNotAllowed, "%s is not allowed on %s; use %s.", r.Method, r.URL.Path, allow))
	}
}

// unknownRoute answers paths the API does not serve.
func unknownRoute(r *http.Request) (any, error) {
	return nil, errdefs.Publicf(errUnknownRoute, "No operation is served at %s %s.", r.Method, r.URL.Path)
}

// accountFor returns the account a request acts for. Until requests are signed
// with SigV4 every caller is the default account; the signature check plugs in here.
func accountFor(r *http.Request) string {
	if account, ok := sigv4.AccountFrom(r.Context()); ok {
		return account
	}
	return v1alpha1.DefaultAccount
}

package signin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/ekstoken"
)

// ClientCommonName is the name on the client certificate a tenant's API
// servers present: the apiserver-kubelet-client pair, the one client pair they
// hold that the cluster's CA signed.
const ClientCommonName = "kube-apiserver-kubelet-client"

// CacheTTL is how long a tenant's API servers keep an answer of these
// webhooks (their --authentication-token-webhook-cache-ttl and
// --authorization-webhook-cache-*-ttl): a deleted access entry or a
// deactivated key is refused within it, plus the seconds the region takes to
// tell the cell.
const CacheTTL = 30 * time.Second

// Paths of the two webhooks under /clusters/<namespace>/<name>.
const (
	AuthenticatePath = "/authenticate"
	AuthorizePath    = "/authorize"
)

// Config is what a cell's sign-in server needs.
type Config struct {
	// Listener is where it serves; the cell listens on its store address.
	Listener net.Listener
	// Certificate serves TLS; the tenants trust its CA.
	Certificate tls.Certificate
	// Store reads the cell's store (a cache): clusters, access entries and
	// signing keys.
	Store client.Reader
	// Verifier checks tokens; its KeySource reads Store.
	Verifier *ekstoken.Verifier
	// ClientCAs is the CA bundle of a cluster, which its API servers' client
	// certificates must chain to.
	ClientCAs func(c *v1alpha1.Cluster) (*x509.CertPool, error)
	// Roles finds the rules of the ClusterRoles access policies grant.
	Roles Roles
	// ConfigMaps finds a cluster's aws-auth mappings; nil maps nobody.
	ConfigMaps ConfigMaps
	// AuthenticationMode is a cluster's accessConfig.authenticationMode;
	// nil, or "", means API_AND_CONFIG_MAP, as for clusters made before
	// access entries.
	AuthenticationMode func(c *v1alpha1.Cluster) string
	Log                *slog.Logger
}

// Server is a running sign-in server.
type Server struct {
	cfg  Config
	http *http.Server
	done chan struct{}
}

// Start serves until Close or ctx ends.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Listener == nil || cfg.Store == nil || cfg.Verifier == nil || cfg.ClientCAs == nil || cfg.Roles == nil {
		return nil, errors.New("sign-in server: listener, store, verifier, client CAs and roles are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /clusters/{namespace}/{name}"+AuthenticatePath, s.authenticate)
	mux.HandleFunc("POST /clusters/{namespace}/{name}"+AuthorizePath, s.authorize)
	s.http = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			MinVersion:   tls.VersionTLS12,
			Certificates: []tls.Certificate{cfg.Certificate},
			// Which CA a client must chain to depends on the cluster the
			// path names, so the handshake only demands a certificate and
			// the handler verifies it.
			ClientAuth: tls.RequireAnyClientCert,
		},
	}
	go func() {
		defer close(s.done)
		if err := s.http.ServeTLS(cfg.Listener, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Log.Error("sign-in server stopped", "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	return s, nil
}

// Close stops serving.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.http.Shutdown(ctx)
	<-s.done
}

// caller finds the cluster the path names and checks that the client
// certificate is its API servers'.
func (s *Server) caller(r *http.Request) (*v1alpha1.Cluster, error) {
	c := &v1alpha1.Cluster{}
	key := client.ObjectKey{Namespace: r.PathValue("namespace"), Name: r.PathValue("name")}
	if err := s.cfg.Store.Get(r.Context(), key, c); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", key, err)
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil, errors.New("no client certificate")
	}
	roots, err := s.cfg.ClientCAs(c)
	if err != nil {
		return nil, err
	}
	leaf := r.TLS.PeerCertificates[0]
	inter := x509.NewCertPool()
	for _, ic := range r.TLS.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	_, err = leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	if err != nil {
		return nil, fmt.Errorf("client certificate is not %s's: %w", key, err)
	}
	if leaf.Subject.CommonName != ClientCommonName {
		return nil, fmt.Errorf("client certificate names %q, not %q", leaf.Subject.CommonName, ClientCommonName)
	}
	return c, nil
}

// mode is c's authentication mode.
func (s *Server) mode(c *v1alpha1.Cluster) string {
	if s.cfg.AuthenticationMode != nil {
		if m := s.cfg.AuthenticationMode(c); m != "" {
			return m
		}
	}
	return v1alpha1.AuthenticationModeAPIAndConfigMap
}

// accessEntry is the access entry of principal on c when c's mode reads
// access entries, nil otherwise or when there is none.
func (s *Server) accessEntry(r *http.Request, c *v1alpha1.Cluster, principal string) (*v1alpha1.AccessEntry, error) {
	if s.mode(c) == v1alpha1.AuthenticationModeConfigMap {
		return nil, nil
	}
	return findEntry(r.Context(), s.cfg.Store, c, principal)
}

// mapping is how principal signs in to c: its access entry or, when c's
// mode reads it and there is no entry, its aws-auth mapping.
func (s *Server) mapping(r *http.Request, c *v1alpha1.Cluster, principal string) (*v1alpha1.AccessEntry, error) {
	e, err := s.accessEntry(r, c, principal)
	if e != nil || err != nil || s.mode(c) == v1alpha1.AuthenticationModeAPI || s.cfg.ConfigMaps == nil {
		return e, err
	}
	auth, err := s.cfg.ConfigMaps.AWSAuth(r.Context(), c)
	if err != nil {
		return nil, err
	}
	return auth.Entry(principal), nil
}

func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(v); err != nil {
		http.Error(w, "cannot decode the review: "+err.Error(), http.StatusBadRequest)
		return false
	}
	return true
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

package store

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"

	"k8s.io/client-go/rest"

	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// Runner starts and stops processes; the process runtime implements it.
type Runner interface {
	Ensure(ctx context.Context, s process.Spec) (process.Status, error)
	Stop(ctx context.Context, s process.Spec) error
}

// Config describes one store.
type Config struct {
	// Name identifies the store in logs and process IDs: "region" or "cell-1".
	Name string
	// Dir holds the store's data, certificates and logs.
	Dir string
	// IP is the loopback address the store listens on.
	IP net.IP
	// Etcd and APIServer are the binaries to run.
	Etcd, APIServer string
	Runner          Runner
}

// Store is a running management store.
type Store struct {
	cfg   Config
	files files
	rest  *rest.Config
}

// Start starts the store's processes, or adopts them if they already run, waits
// until the API server is ready and installs cellplane's CRDs.
func Start(ctx context.Context, cfg Config) (*Store, error) {
	s := &Store{cfg: cfg}
	var err error
	if s.files, err = ensurePKI(filepath.Join(cfg.Dir, "pki"), cfg.IP); err != nil {
		return nil, fmt.Errorf("store %s: %w", cfg.Name, err)
	}
	s.rest = s.restConfig()
	for _, spec := range []process.Spec{s.etcdSpec(), s.apiServerSpec()} {
		if _, err := cfg.Runner.Ensure(ctx, spec); err != nil {
			return nil, fmt.Errorf("store %s: starting %s: %w", cfg.Name, spec.Name, err)
		}
	}
	if err := waitReady(ctx, s.rest, filepath.Join(cfg.Dir, "logs"), readyTimeout); err != nil {
		return nil, fmt.Errorf("store %s: %w", cfg.Name, err)
	}
	if err := installCRDs(ctx, s.rest); err != nil {
		return nil, fmt.Errorf("store %s: %w", cfg.Name, err)
	}
	if err := sealSecrets(ctx, s.rest, filepath.Join(cfg.Dir, "pki")); err != nil {
		return nil, fmt.Errorf("store %s: %w", cfg.Name, err)
	}
	return s, nil
}

// RESTConfig returns admin credentials for the store's API server.
func (s *Store) RESTConfig() *rest.Config { return rest.CopyConfig(s.rest) }

// LoadBalancerStatusTLS names the files of the cell load balancer's status
// server, which listens on the store's address: its certificate and key,
// issued by the store's CA, and that CA, which its clients' certificates (the
// store's own client certificates) must chain to.
func (s *Store) LoadBalancerStatusTLS() (cert, key, clientCA string) {
	return s.files.lbStatusCert, s.files.lbStatusKey, s.files.ca
}

// Stop stops the store's processes, API server first so no write is cut mid-way.
func (s *Store) Stop(ctx context.Context) error {
	for _, spec := range []process.Spec{s.apiServerSpec(), s.etcdSpec()} {
		if err := s.cfg.Runner.Stop(ctx, spec); err != nil {
			return fmt.Errorf("store %s: stopping %s: %w", s.cfg.Name, spec.Name, err)
		}
	}
	return nil
}

func (s *Store) restConfig() *rest.Config { return AdminConfig(s.cfg.Dir, s.cfg.IP) }

// AdminConfig returns admin credentials for the store kept in dir and served on
// ip: what Start uses, for tools on the same machine that need the store itself.
func AdminConfig(dir string, ip net.IP) *rest.Config {
	p := func(n string) string { return filepath.Join(dir, "pki", n) }
	return &rest.Config{
		Host:            "https://" + ipam.HostPort(ip, ipam.APIServerPort),
		TLSClientConfig: rest.TLSClientConfig{CAFile: p("ca.crt"), CertFile: p("admin.crt"), KeyFile: p("admin.key")},
		QPS:             200, Burst: 400,
	}
}

func (s *Store) spec(name string, path string, args []string) process.Spec {
	return process.Spec{
		ID:       s.cfg.Name + "/" + name,
		Path:     path,
		Args:     args,
		Dir:      s.cfg.Dir,
		StateDir: filepath.Join(s.cfg.Dir, "logs"),
		Name:     name,
	}
}

func (s *Store) etcdSpec() process.Spec {
	ip := s.cfg.IP.String()
	f := s.files
	// Mutual TLS on clients and peers: only holders of a certificate from the
	// store's etcd CA (its API server) get in, and nothing listens in plain HTTP.
	client := "https://" + ipam.HostPort(s.cfg.IP, ipam.EtcdClientPort)
	peer := "https://" + ipam.HostPort(s.cfg.IP, ipam.EtcdPeerPort)
	return s.spec("etcd", s.cfg.Etcd, []string{
		"--name=" + s.cfg.Name,
		"--data-dir=" + filepath.Join(s.cfg.Dir, "etcd"),
		"--listen-client-urls=" + client,
		"--advertise-client-urls=" + client,
		"--listen-peer-urls=" + peer,
		"--initial-advertise-peer-urls=" + peer,
		"--initial-cluster=" + s.cfg.Name + "=" + peer,
		"--initial-cluster-token=" + s.cfg.Name + "-" + ip,
		"--cert-file=" + f.etcdServerCert,
		"--key-file=" + f.etcdServerKey,
		"--client-cert-auth=true",
		"--trusted-ca-file=" + f.etcdCA,
		"--peer-cert-file=" + f.etcdPeerCert,
		"--peer-key-file=" + f.etcdPeerKey,
		"--peer-client-cert-auth=true",
		"--peer-trusted-ca-file=" + f.etcdCA,
		"--log-level=warn",
	})
}

func (s *Store) apiServerSpec() process.Spec {
	f := s.files
	return s.spec("kube-apiserver", s.cfg.APIServer, []string{
		"--etcd-servers=https://" + ipam.HostPort(s.cfg.IP, ipam.EtcdClientPort),
		"--etcd-cafile=" + f.etcdCA,
		"--etcd-certfile=" + f.etcdClientCert,
		"--etcd-keyfile=" + f.etcdClientKey,
		"--encryption-provider-config=" + f.encryption,
		"--bind-address=" + s.cfg.IP.String(),
		"--advertise-address=" + s.cfg.IP.String(),
		"--secure-port=" + strconv.Itoa(ipam.APIServerPort),
		"--tls-cert-file=" + f.serverCert,
		"--tls-private-key-file=" + f.serverKey,
		"--client-ca-file=" + f.ca,
		"--authorization-mode=RBAC",
		// Only cellplane, with its client certificate, talks to a store.
		"--anonymous-auth=false",
		"--tls-min-version=VersionTLS12",
		"--service-account-issuer=https://" + ipam.HostPort(s.cfg.IP, ipam.APIServerPort),
		"--service-account-key-file=" + f.saPub,
		"--service-account-signing-key-file=" + f.saKey,
		"--service-cluster-ip-range=10.0.0.0/24",
		// Loopback addresses fail Endpoints validation, and nothing in a store needs
		// the kubernetes Service.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
		"-v=1",
	})
}

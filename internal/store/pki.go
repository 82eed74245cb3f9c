package store

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/cellplane/cellplane/internal/pki"
)

// files are the store's certificate and key paths. The store has two CAs: one
// for its API server and its clients, one for its etcd, which serves only
// mutual TLS to the API server (and to members of its own CA) on clients and
// peers alike.
type files struct {
	ca, serverCert, serverKey, adminCert, adminKey, saKey, saPub     string
	etcdCA, etcdServerCert, etcdServerKey, etcdPeerCert, etcdPeerKey string
	etcdClientCert, etcdClientKey                                    string
	// lbStatus is the serving pair of the cell load balancer's status server,
	// which shares the store's address and takes the store's client
	// certificates.
	lbStatusCert, lbStatusKey string
	// encryption is the API server's EncryptionConfiguration: Secrets are
	// sealed with a key of the store's own before they reach etcd.
	encryption string
}

func ensurePKI(dir string, ip net.IP) (files, error) {
	ca, _, err := pki.EnsureCA(dir, "ca", "cellplane store CA")
	if err != nil {
		return files{}, fmt.Errorf("store CA: %w", err)
	}
	etcdCA, _, err := pki.EnsureCA(dir, "etcd-ca", "cellplane store etcd CA")
	if err != nil {
		return files{}, fmt.Errorf("store etcd CA: %w", err)
	}
	server := pki.CertRequest{
		CommonName: "kube-apiserver", IPs: []net.IP{ip, net.IPv4(127, 0, 0, 1)},
		DNSNames: []string{"localhost"}, Usage: pki.Server,
	}
	admin := pki.CertRequest{CommonName: "cellplane", Organization: []string{"system:masters"}, Usage: pki.Client}
	etcdMember := pki.CertRequest{CommonName: "etcd", IPs: []net.IP{ip}, Usage: pki.ServerAndClient}
	etcdClient := pki.CertRequest{CommonName: "kube-apiserver-etcd-client", Usage: pki.Client}
	lbStatus := pki.CertRequest{CommonName: "cellplane-lb-status", IPs: []net.IP{ip}, Usage: pki.Server}
	for _, p := range []struct {
		name string
		ca   *pki.CA
		req  pki.CertRequest
	}{
		{"apiserver", ca, server}, {"admin", ca, admin},
		{"etcd-server", etcdCA, etcdMember}, {"etcd-peer", etcdCA, etcdMember},
		{"apiserver-etcd-client", etcdCA, etcdClient}, {"lb-status", ca, lbStatus},
	} {
		if _, err := pki.EnsurePair(dir, p.name, p.ca, p.req); err != nil {
			return files{}, fmt.Errorf("store %s certificate: %w", p.name, err)
		}
	}
	if err := pki.EnsureServiceAccountKey(dir); err != nil {
		return files{}, fmt.Errorf("store service-account key: %w", err)
	}
	p := func(n string) string { return filepath.Join(dir, n) }
	if err := ensureEncryptionConfig(p(encryptionFile)); err != nil {
		return files{}, fmt.Errorf("store encryption at rest: %w", err)
	}
	return files{
		ca: p("ca.crt"), serverCert: p("apiserver.crt"), serverKey: p("apiserver.key"),
		adminCert: p("admin.crt"), adminKey: p("admin.key"), saKey: p("sa.key"), saPub: p("sa.pub"),
		etcdCA:         p("etcd-ca.crt"),
		etcdServerCert: p("etcd-server.crt"), etcdServerKey: p("etcd-server.key"),
		etcdPeerCert: p("etcd-peer.crt"), etcdPeerKey: p("etcd-peer.key"),
		etcdClientCert: p("apiserver-etcd-client.crt"), etcdClientKey: p("apiserver-etcd-client.key"),
		encryption:   p(encryptionFile),
		lbStatusCert: p("lb-status.crt"), lbStatusKey: p("lb-status.key"),
	}, nil
}

// encryptionFile holds the store's key for Secrets at rest, inside an
// EncryptionConfiguration the API server reads. It is written once: losing or
// replacing it makes every Secret in the store unreadable.
const encryptionFile = "encryption.yaml"

const encryptionKeyName = "store-1"

// ensureEncryptionConfig writes the configuration with a fresh 32-byte
// secretbox key unless a valid one is there. A file that exists but does not
// hold a usable key is an error, never overwritten: the key in it may be the
// only way to read the store's Secrets.
func ensureEncryptionConfig(path string) error {
	data, err := os.ReadFile(path) //nolint:gosec // G304: the store's own key file, a path cellplane builds
	switch {
	case err == nil:
		return checkEncryptionConfig(path, data)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("reading %s: %w", path, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("generating the key: %w", err)
	}
	return pki.WriteFileAtomic(path, []byte(encryptionConfig(key)), 0o600)
}

func encryptionConfig(key []byte) string {
	return `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: ["secrets"]
    providers:
      - secretbox:
          keys:
            - name: ` + encryptionKeyName + `
              secret: ` + base64.StdEncoding.EncodeToString(key) + `
      - identity: {}
`
}

// checkEncryptionConfig refuses a file that is not one ensureEncryptionConfig
// wrote: truncated, edited, or readable by others.
func checkEncryptionConfig(path string, data []byte) error {
	info, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		return fmt.Errorf("%s is readable by others (mode %v): %w", path, info.Mode().Perm(), ErrBadKeyFile)
	}
	const marker = "secret: "
	i := strings.Index(string(data), marker)
	if i < 0 {
		return fmt.Errorf("%s holds no key: %w", path, ErrBadKeyFile)
	}
	line, _, _ := strings.Cut(string(data[i+len(marker):]), "\n")
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(line))
	if err != nil || len(key) != 32 {
		return fmt.Errorf("%s holds no 32-byte key: %w", path, ErrBadKeyFile)
	}
	if string(data) != encryptionConfig(key) {
		return fmt.Errorf("%s was changed or truncated: %w", path, ErrBadKeyFile)
	}
	return nil
}

// ErrBadKeyFile is returned when the store's key file for Secrets at rest is
// there but unusable; it is never replaced, since the Secrets need it.
var ErrBadKeyFile = errors.New("store encryption key file is unusable")

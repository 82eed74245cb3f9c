package store

import (
	"fmt"
	"net"
	"path/filepath"

	"github.com/cellplane/cellplane/internal/pki"
)

// files are the store's certificate and key paths.
type files struct {
	ca, serverCert, serverKey, adminCert, adminKey, saKey, saPub string
}

func ensurePKI(dir string, ip net.IP) (files, error) {
	ca, _, err := pki.EnsureCA(dir, "ca", "cellplane store CA")
	if err != nil {
		return files{}, fmt.Errorf("store CA: %w", err)
	}
	server := pki.CertRequest{
		CommonName: "kube-apiserver", IPs: []net.IP{ip, net.IPv4(127, 0, 0, 1)},
		DNSNames: []string{"localhost"}, Usage: pki.Server,
	}
	admin := pki.CertRequest{CommonName: "cellplane", Organization: []string{"system:masters"}, Usage: pki.Client}
	for name, req := range map[string]pki.CertRequest{"apiserver": server, "admin": admin} {
		if _, err := pki.EnsurePair(dir, name, ca, req); err != nil {
			return files{}, fmt.Errorf("store %s certificate: %w", name, err)
		}
	}
	if err := pki.EnsureServiceAccountKey(dir); err != nil {
		return files{}, fmt.Errorf("store service-account key: %w", err)
	}
	p := func(n string) string { return filepath.Join(dir, n) }
	return files{
		ca: p("ca.crt"), serverCert: p("apiserver.crt"), serverKey: p("apiserver.key"),
		adminCert: p("admin.crt"), adminKey: p("admin.key"), saKey: p("sa.key"), saPub: p("sa.pub"),
	}, nil
}

package controlplane

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/cellplane/cellplane/internal/kubeconfig"
	"github.com/cellplane/cellplane/internal/pki"
)

// What kube-controller-manager and kube-scheduler share: two each, in zones a
// and b, each talking to its own zone's API server, with leader election.

// KubeconfigPath is where controller member m finds its API server.
func (p *Plan) KubeconfigPath(m Member) string {
	return filepath.Join(p.ConfigDir(), m.Name()+".kubeconfig")
}

// writeControllerKubeconfigs writes the kubeconfig of every member of kind,
// with credentials pair. Each controller talks to the API server of its own
// zone, so a zone's failure takes out whole zones rather than cross-zone pairs.
func (p *Plan) writeControllerKubeconfigs(kind string, pair pki.Pair) error {
	for _, m := range p.Members(kind) {
		opts := kubeconfig.Options{
			ClusterName: p.in.ClusterName,
			Server:      "https://" + p.member(KindAPIServer, m.Zone).Address(),
			CAFile:      p.pki.CABundle,
			CertFile:    pair.Cert,
			KeyFile:     pair.Key,
			User:        m.Kind,
		}
		if err := kubeconfig.Write(p.KubeconfigPath(m), opts); err != nil {
			return fmt.Errorf("writing %s kubeconfig: %w", m.Name(), err)
		}
	}
	return nil
}

// controllerArgs are what controller-manager and scheduler share: their zone's API
// server for everything, their own address, leader election. The order is part of
// the spec hash, so it must not change under running clusters.
func (p *Plan) controllerArgs(m Member) []string {
	kc := p.KubeconfigPath(m)
	return []string{
		"--kubeconfig=" + kc,
		"--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc,
		"--bind-address=" + m.IP.String(),
		"--secure-port=" + strconv.Itoa(m.Port),
		"--leader-elect=true",
	}
}

// checkSelfServed asks a controller's /healthz. Controllers serve
// self-signed certificates to anyone on their own address; what matters is
// that the process answers, not who it claims to be.
func checkSelfServed(ctx context.Context, pr *Prober, m Member) error {
	return get(ctx, pr.selfTLS, "https://"+m.Address()+"/healthz")
}

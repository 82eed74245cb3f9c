package controlplane

import (
	"fmt"
	"path/filepath"

	"github.com/cellplane/cellplane/internal/kubeconfig"
	"github.com/cellplane/cellplane/internal/pki"
)

// auditPolicy records who did what to which resource, without request bodies: enough
// for audit insights, cheap enough to leave on.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version"]
- level: Metadata
`

// AuditPolicyPath is where the API servers' audit policy lives.
func (p *Plan) AuditPolicyPath() string { return filepath.Join(p.ConfigDir(), "audit-policy.yaml") }

// KubeconfigPath is where controller member m finds its API server.
func (p *Plan) KubeconfigPath(m Member) string {
	return filepath.Join(p.ConfigDir(), m.Name()+".kubeconfig")
}

// WriteConfigs writes the audit policy and the controllers' kubeconfigs. Each
// controller talks to the API server of its own zone, so a zone's failure takes out
// whole zones rather than cross-zone pairs.
func (p *Plan) WriteConfigs() error {
	if err := pki.WriteFileAtomic(p.AuditPolicyPath(), []byte(auditPolicy), 0o600); err != nil {
		return fmt.Errorf("writing audit policy: %w", err)
	}
	for _, kind := range []string{KindControllerManager, KindScheduler} {
		for _, m := range p.Members(kind) {
			if err := kubeconfig.Write(p.KubeconfigPath(m), p.controllerKubeconfig(m)); err != nil {
				return fmt.Errorf("writing %s kubeconfig: %w", m.Name(), err)
			}
		}
	}
	return nil
}

func (p *Plan) controllerKubeconfig(m Member) kubeconfig.Options {
	pair := p.pki.ControllerManager
	if m.Kind == KindScheduler {
		pair = p.pki.Scheduler
	}
	return kubeconfig.Options{
		ClusterName: p.in.ClusterName,
		Server:      "https://" + p.member(KindAPIServer, m.Zone).Address(),
		CAFile:      p.pki.CA,
		CertFile:    pair.Cert,
		KeyFile:     pair.Key,
		User:        m.Kind,
	}
}

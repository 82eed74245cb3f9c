package controlplane

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/cellplane/cellplane/internal/pki"
)

// SignIn is where the API servers send bearer tokens and authorization
// questions: the cell's sign-in webhooks (package cell/signin).
type SignIn struct {
	// URL is the cluster's base URL on the cell's sign-in server
	// (https://<cell address>/clusters/<namespace>/<name>).
	URL string
	// CAData is the PEM of the CA that signed the server's certificate.
	CAData []byte
	// CacheTTL is how long the API servers keep an answer: a revoked key or
	// access entry is refused within it.
	CacheTTL time.Duration
}

// Paths of the webhook kubeconfigs the API servers read.
func (p *Plan) signInAuthnConfig() string {
	return filepath.Join(p.ConfigDir(), "signin-authn.kubeconfig")
}
func (p *Plan) signInAuthzConfig() string {
	return filepath.Join(p.ConfigDir(), "signin-authz.kubeconfig")
}

// authorizationModes are the API servers' authorizers in order: Node and
// the tenant's RBAC first, then the cell's access policies.
func (p *Plan) authorizationModes() string {
	if p.in.SignIn == nil {
		return "Node,RBAC"
	}
	return "Node,RBAC,Webhook"
}

// signInArgs points the API servers at the sign-in webhooks. The token
// cache keeps successes and failures for CacheTTL; the authorizer keeps an
// allowed answer CacheTTL and a no-opinion one a few seconds, so a policy
// just associated takes effect quickly.
func (p *Plan) signInArgs() []string {
	s := p.in.SignIn
	if s == nil {
		return nil
	}
	ttl := s.CacheTTL.String()
	return []string{
		"--authentication-token-webhook-config-file=" + p.signInAuthnConfig(),
		"--authentication-token-webhook-version=v1",
		"--authentication-token-webhook-cache-ttl=" + ttl,
		"--authorization-webhook-config-file=" + p.signInAuthzConfig(),
		"--authorization-webhook-version=v1",
		"--authorization-webhook-cache-authorized-ttl=" + ttl,
		"--authorization-webhook-cache-unauthorized-ttl=5s",
	}
}

// writeSignInConfigs writes the webhooks' kubeconfigs: the server's URL and
// CA, and the API server's client pair (apiserver-kubelet-client, which the
// cluster's CA signed and the sign-in server checks) by path, so a renewed
// pair is picked up without rewriting them.
func (p *Plan) writeSignInConfigs() error {
	s := p.in.SignIn
	if s == nil {
		return nil
	}
	for path, suffix := range map[string]string{p.signInAuthnConfig(): "/authenticate", p.signInAuthzConfig(): "/authorize"} {
		if err := pki.WriteFileAtomic(path, []byte(p.webhookKubeconfig(s.URL+suffix, s.CAData)), 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", filepath.Base(path), err)
		}
	}
	return nil
}

func (p *Plan) webhookKubeconfig(server string, ca []byte) string {
	f := p.pki.KubeletClient
	return strings.Join([]string{
		"apiVersion: v1",
		"kind: Config",
		"clusters:",
		"- name: signin",
		"  cluster:",
		"    server: " + server,
		"    certificate-authority-data: " + base64.StdEncoding.EncodeToString(ca),
		"users:",
		"- name: kube-apiserver",
		"  user:",
		"    client-certificate: " + f.Cert,
		"    client-key: " + f.Key,
		"contexts:",
		"- name: signin",
		"  context:",
		"    cluster: signin",
		"    user: kube-apiserver",
		"current-context: signin",
		"",
	}, "\n")
}

package controlplane

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"

	"github.com/cellplane/cellplane/internal/authnconfig"
	"github.com/cellplane/cellplane/internal/pki"
)

// AuthenticationConfigPath is the API servers' structured authentication
// configuration (--authentication-config): the cluster's OIDC identity
// providers. Both API servers read the one file.
func (p *Plan) AuthenticationConfigPath() string {
	return filepath.Join(p.ConfigDir(), "authentication-config.yaml")
}

// AuthenticationConfig is the content that file must have.
func (p *Plan) AuthenticationConfig() ([]byte, error) {
	return authnconfig.Render(p.in.IdentityProviders)
}

// authenticationArgs points every API server at the file from its start,
// with no provider too: kube-apiserver reloads the file when it changes,
// but the flag itself cannot be added without a restart. It excludes the
// --oidc-* flags, which cellplane never sets.
func (p *Plan) authenticationArgs() []string {
	return []string{"--authentication-config=" + p.AuthenticationConfigPath()}
}

// writeAuthenticationConfig replaces the file atomically (kube-apiserver's
// watch follows the rename) and only when its content changes, so a pass
// over a settled cluster wakes no API server. The file is group-readable:
// the cluster's own user runs the API servers when isolated.
func (p *Plan) writeAuthenticationConfig() error {
	want, err := p.AuthenticationConfig()
	if err != nil {
		return err
	}
	if have, err := os.ReadFile(p.AuthenticationConfigPath()); err == nil && bytes.Equal(have, want) {
		return nil
	}
	if err := pki.WriteFileAtomic(p.AuthenticationConfigPath(), want, 0o640); err != nil {
		return fmt.Errorf("writing the authentication configuration: %w", err)
	}
	return nil
}

// AuthenticationLoaded asks API server m which authentication configuration
// it has loaded, from its metrics (see authnconfig.ParseMetrics).
func (pr *Prober) AuthenticationLoaded(ctx context.Context, m Member) (authnconfig.Loaded, error) {
	ctx, cancel := context.WithTimeout(ctx, checkTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+m.Address()+"/metrics", nil)
	if err != nil {
		return authnconfig.Loaded{}, err
	}
	resp, err := pr.kube.Do(req)
	if err != nil {
		return authnconfig.Loaded{}, fmt.Errorf("%w: %v", ErrUnhealthy, err)
	}
	defer resp.Body.Close() //nolint:errcheck // read-only
	if resp.StatusCode != http.StatusOK {
		return authnconfig.Loaded{}, fmt.Errorf("%w: %s /metrics answered %s", ErrUnhealthy, m.Name(), resp.Status)
	}
	return authnconfig.ParseMetrics(resp.Body)
}

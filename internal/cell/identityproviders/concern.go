package identityproviders

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/authnconfig"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// ConditionIdentityProviders is True once every API server has loaded the
// cluster's current authentication configuration. It never holds the
// cluster back from Ready: an issuer that cannot be reached keeps its
// provider CREATING, not the cluster.
const ConditionIdentityProviders = "IdentityProvidersLoaded"

// Concern reports which identity providers every API server has loaded.
type Concern struct {
	Logger *slog.Logger
	// Loaded asks one API server what it has loaded; nil asks its metrics
	// (controlplane.Prober.AuthenticationLoaded). Tests replace it.
	Loaded func(ctx context.Context, p *controlplane.Plan, m controlplane.Member) (authnconfig.Loaded, error)
}

var _ tenant.Concern = (*Concern)(nil)

// Reconcile has nothing to do: the configuration file is written with the
// other configs, before the concerns run.
func (r *Concern) Reconcile(context.Context, *v1alpha1.Cluster, *controlplane.Plan) error { return nil }

// Health asks the API servers once the file changed since they last all
// agreed, and records the new configuration once every one reports it. A
// settled cluster costs no request: an API server that restarts reads the
// current file as it starts.
func (r *Concern) Health(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan, _ bool) string {
	data, err := p.AuthenticationConfig()
	if err != nil {
		tenant.SetCondition(c, ConditionIdentityProviders, false, "RenderFailed", err.Error())
		return ""
	}
	want := authnconfig.Hash(data)
	if st := c.Status.Authentication; st != nil && st.ConfigHash == want {
		tenant.SetCondition(c, ConditionIdentityProviders, true, "Loaded", "every API server has loaded "+authnconfig.Describe(c.Spec.IdentityProviders))
		return ""
	}
	waiting := r.notLoaded(ctx, p, want)
	if len(waiting) > 0 {
		msg := strings.Join(waiting, "; ")
		if c.Status.Authentication == nil {
			c.Status.Authentication = &v1alpha1.AuthenticationStatus{}
		}
		c.Status.Authentication.Message = msg
		tenant.SetCondition(c, ConditionIdentityProviders, false, "Loading", msg)
		return ""
	}
	now := metav1.NewTime(time.Now())
	c.Status.Authentication = &v1alpha1.AuthenticationStatus{ConfigHash: want, IdentityProviders: authnconfig.IDs(c.Spec.IdentityProviders), ObservedAt: &now}
	tenant.SetCondition(c, ConditionIdentityProviders, true, "Loaded", "every API server has loaded "+authnconfig.Describe(c.Spec.IdentityProviders))
	tenant.Logger(r.Logger, c).Info("every API server loaded the authentication configuration", "providers", authnconfig.Describe(c.Spec.IdentityProviders), "hash", want)
	return ""
}

// notLoaded says, for each API server that does not report hash want, why.
func (r *Concern) notLoaded(ctx context.Context, p *controlplane.Plan, want string) []string {
	loaded, err := r.loader(p)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, m := range p.Members(controlplane.KindAPIServer) {
		l, err := loaded(ctx, p, m)
		switch {
		case errors.Is(err, authnconfig.ErrNoConfigInfo):
			out = append(out, m.Name()+" runs without the authentication configuration (it restarts with it)")
		case err != nil:
			out = append(out, fmt.Sprintf("%s: %v", m.Name(), err))
		case l.Hash != want && l.ReloadFailing():
			out = append(out, m.Name()+" refused the newest authentication configuration (its last reload failed: is the issuer reachable, with a trusted certificate?); it keeps the one before")
		case l.Hash != want:
			out = append(out, m.Name()+" has not loaded the newest authentication configuration yet")
		}
	}
	return slices.Clip(out)
}

// loader is how this pass asks the API servers: through a prober of its
// own, closed with the pass, since it runs only while a change settles.
func (r *Concern) loader(p *controlplane.Plan) (func(context.Context, *controlplane.Plan, controlplane.Member) (authnconfig.Loaded, error), error) {
	if r.Loaded != nil {
		return r.Loaded, nil
	}
	pr, err := controlplane.NewProber(p)
	if err != nil {
		return nil, fmt.Errorf("preparing to ask the API servers: %w", err)
	}
	return func(ctx context.Context, _ *controlplane.Plan, m controlplane.Member) (authnconfig.Loaded, error) {
		defer pr.Close()
		return pr.AuthenticationLoaded(ctx, m)
	}, nil
}

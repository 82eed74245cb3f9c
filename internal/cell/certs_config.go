package cell

import (
	"fmt"
	"time"

	"github.com/spf13/pflag"

	"github.com/cellplane/cellplane/internal/cell/lifecycle"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/pki"
)

// DefaultKubeconfigCertLifetime is how long the admin client certificate in
// a cluster's published kubeconfig lives: a working day and then some, so a
// leaked kubeconfig is worth little for long.
const DefaultKubeconfigCertLifetime = lifecycle.DefaultKubeconfigCertLifetime

// Bounds of the kubeconfig certificate's lifetime: long enough for a
// kubeconfig to be used after it is fetched, short enough to stay short-lived.
const (
	minKubeconfigCertLifetime = time.Minute
	maxKubeconfigCertLifetime = 7 * 24 * time.Hour
)

// CertTuning is how long tenant certificates live. Zero fields mean the
// defaults, so a cell given no certificate flags has a zero CertTuning and
// the same command line as before these flags existed.
type CertTuning struct {
	// LeafLifetime and LeafRenewBefore: every leaf certificate of a tenant
	// control plane lives LeafLifetime and is renewed LeafRenewBefore before
	// it expires (a year and 30 days).
	LeafLifetime, LeafRenewBefore time.Duration
	// KubeconfigLifetime is the life of the admin certificate handed out by
	// `cluster kubeconfig` (12 hours).
	KubeconfigLifetime time.Duration
}

// AddFlags registers the certificate flags; each refuses zero and negative
// values on the command line, where zero would silently mean the default.
func (c *CertTuning) AddFlags(f *pflag.FlagSet) {
	f.Var((*positiveDuration)(&c.LeafLifetime), "leaf-cert-lifetime",
		"lifetime of every tenant control plane's leaf certificates (default 8760h, a year)")
	f.Var((*positiveDuration)(&c.LeafRenewBefore), "leaf-cert-renew-before",
		"renew a tenant leaf certificate this long before it expires, at least 1m (default 720h, 30 days)")
	f.Var((*positiveDuration)(&c.KubeconfigLifetime), "kubeconfig-cert-lifetime",
		"lifetime of the admin client certificate in the kubeconfig that cluster kubeconfig hands out, 1m to 168h (default 12h)")
}

// Renewal is the leaf renewal policy the tuning asks for.
func (c CertTuning) Renewal() pki.Renewal {
	d := pki.DefaultRenewal()
	return pki.Renewal{Lifetime: orDuration(c.LeafLifetime, d.Lifetime), RenewBefore: orDuration(c.LeafRenewBefore, d.RenewBefore)}
}

// Kubeconfig is the lifetime of the kubeconfig's admin certificate.
func (c CertTuning) Kubeconfig() time.Duration {
	return orDuration(c.KubeconfigLifetime, DefaultKubeconfigCertLifetime)
}

// Validate refuses lifetimes that would let certificates expire before they
// are replaced, replace them on every pass, or hand out long-lived admin keys.
func (c CertTuning) Validate() error {
	if c.LeafLifetime < 0 || c.LeafRenewBefore < 0 || c.KubeconfigLifetime < 0 {
		return fmt.Errorf("%w: negative certificate lifetime", errdefs.ErrInvalidConfig)
	}
	if err := c.Renewal().Validate(); err != nil {
		return fmt.Errorf("%w: %w (--leaf-cert-lifetime, --leaf-cert-renew-before)", errdefs.ErrInvalidConfig, err)
	}
	if k := c.Kubeconfig(); k < minKubeconfigCertLifetime || k > maxKubeconfigCertLifetime {
		return fmt.Errorf("%w: --kubeconfig-cert-lifetime %s is not between %s and %s",
			errdefs.ErrInvalidConfig, k, minKubeconfigCertLifetime, maxKubeconfigCertLifetime)
	}
	return nil
}

// Args are the flags of what is set, for `up` to pass to a cell.
func (c CertTuning) Args() []string {
	var out []string
	for _, a := range []struct {
		flag string
		v    time.Duration
	}{{"--leaf-cert-lifetime", c.LeafLifetime}, {"--leaf-cert-renew-before", c.LeafRenewBefore}, {"--kubeconfig-cert-lifetime", c.KubeconfigLifetime}} {
		if a.v != 0 {
			out = append(out, a.flag, a.v.String())
		}
	}
	return out
}

func orDuration(v, d time.Duration) time.Duration {
	if v == 0 {
		return d
	}
	return v
}

// positiveDuration is a flag of a duration above zero.
type positiveDuration time.Duration

func (v *positiveDuration) String() string {
	if *v == 0 {
		return ""
	}
	return time.Duration(*v).String()
}
func (v *positiveDuration) Type() string { return "duration" }
func (v *positiveDuration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("want a duration above 0 such as 12h or 90s, got %q", s)
	}
	*v = positiveDuration(d)
	return nil
}

package cell

import (
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/pki"
)

func TestCertTuningValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		c  CertTuning
		ok bool
	}{
		"zero: the defaults":        {CertTuning{}, true},
		"short, as e2e runs it":     {CertTuning{LeafLifetime: 2 * time.Minute, LeafRenewBefore: time.Minute}, true},
		"kubeconfig an hour":        {CertTuning{KubeconfigLifetime: time.Hour}, true},
		"lifetime below the window": {CertTuning{LeafLifetime: 10 * 24 * time.Hour}, false},
		"renew-before too short":    {CertTuning{LeafLifetime: time.Hour, LeafRenewBefore: time.Second}, false},
		"renew-before = lifetime":   {CertTuning{LeafLifetime: time.Hour, LeafRenewBefore: time.Hour}, false},
		"lifetime beyond the CA":    {CertTuning{LeafLifetime: 20 * 365 * 24 * time.Hour}, false},
		"negative lifetime":         {CertTuning{LeafLifetime: -time.Hour}, false},
		"kubeconfig a month":        {CertTuning{KubeconfigLifetime: 30 * 24 * time.Hour}, false},
		"kubeconfig a second":       {CertTuning{KubeconfigLifetime: time.Second}, false},
	} {
		t.Run(name, func(t *testing.T) {
			err := (Tuning{Certs: tc.c}).Validate()
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, errdefs.ErrInvalidConfig)) {
				t.Fatalf("Validate(%+v) = %v, want ok=%v or ErrInvalidConfig", tc.c, err, tc.ok)
			}
		})
	}
}

func TestCertTuningDefaults(t *testing.T) {
	var c CertTuning
	if got := c.Renewal(); got != pki.DefaultRenewal() {
		t.Errorf("Renewal() = %+v, want pki's default", got)
	}
	if got := c.Kubeconfig(); got != 12*time.Hour {
		t.Errorf("Kubeconfig() = %s, want 12h", got)
	}
	if got := DefaultTuning().Args(); got != nil {
		t.Errorf("default Args() = %q, want none", got)
	}
}

// What up passes on, a cell parses back to the same tuning; zero and bad
// durations are refused on the command line.
func TestCertTuningFlags(t *testing.T) {
	want := Tuning{GoawayChance: DefaultGoawayChance, DefragMinDBBytes: DefaultTuning().DefragMinDBBytes,
		DefragMinFragmentation: DefaultTuning().DefragMinFragmentation,
		Certs:                  CertTuning{LeafLifetime: 2 * time.Minute, LeafRenewBefore: time.Minute, KubeconfigLifetime: time.Hour}}
	args := want.Args()
	if !slices.Equal(args, []string{"--leaf-cert-lifetime", "2m0s", "--leaf-cert-renew-before", "1m0s", "--kubeconfig-cert-lifetime", "1h0m0s"}) {
		t.Fatalf("Args() = %q", args)
	}
	var parsed Tuning
	f := pflag.NewFlagSet("cell run", pflag.ContinueOnError)
	parsed.AddFlags(f)
	if err := f.Parse(args); err != nil || parsed != want {
		t.Fatalf("parsed %q into %+v (%v), want %+v", args, parsed, err, want)
	}
	for _, bad := range [][]string{
		{"--leaf-cert-lifetime", "0"}, {"--leaf-cert-lifetime", "-1h"},
		{"--leaf-cert-renew-before", "a month"}, {"--kubeconfig-cert-lifetime", "0s"},
	} {
		var tn Tuning
		f := pflag.NewFlagSet("cell run", pflag.ContinueOnError)
		f.SetOutput(io.Discard)
		tn.AddFlags(f)
		if err := f.Parse(bad); err == nil {
			t.Errorf("parsing %q succeeded", bad)
		}
	}
}

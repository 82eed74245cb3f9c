package service

import (
	"errors"
	"testing"

	cellctl "github.com/cellplane/cellplane/internal/cell"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

func TestDefragPolicyFromEnv(t *testing.T) {
	for name, tc := range map[string]struct {
		bytes, frag string
		want        etcdcare.Policy
		bad         bool
	}{
		"unset":     {},
		"lowered":   {bytes: "16777216", frag: "0.3", want: etcdcare.Policy{MinDBSize: 16 << 20, MinFragmentation: 0.3}},
		"not bytes": {bytes: "16Mi", bad: true},
		"zero":      {bytes: "0", bad: true},
		"over one":  {frag: "1.5", bad: true},
	} {
		t.Run(name, func(t *testing.T) {
			for k, v := range map[string]string{EnvDefragMinDBBytes: tc.bytes, EnvDefragMinFragmentation: tc.frag} {
				if v != "" {
					t.Setenv(k, v)
				}
			}
			got, err := defragPolicyFromEnv()
			if tc.bad != errors.Is(err, ErrInvalidConfig) || got != tc.want && !tc.bad {
				t.Errorf("defragPolicyFromEnv() = %+v, %v", got, err)
			}
			if env := etcdCareEnv(); (tc.bytes == "" && tc.frag == "") != (env == nil) {
				t.Errorf("etcdCareEnv() = %q", env)
			}
		})
	}
}

func TestGoawayChanceFromEnv(t *testing.T) {
	got, err := goawayChanceFromEnv()
	if err != nil || got != cellctl.DefaultGoawayChance {
		t.Errorf("unset: %v, %v; want the default %v", got, err, cellctl.DefaultGoawayChance)
	}
	for v, want := range map[string]float64{"0": 0, "0.02": 0.02, "0.005": 0.005} {
		t.Setenv(EnvGoawayChance, v)
		if got, err := goawayChanceFromEnv(); err != nil || got != want {
			t.Errorf("%s: %v, %v", v, got, err)
		}
	}
	for _, v := range []string{"0.5", "-0.1", "often"} {
		t.Setenv(EnvGoawayChance, v)
		if _, err := goawayChanceFromEnv(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: err %v, want ErrInvalidConfig", v, err)
		}
	}
}

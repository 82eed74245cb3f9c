package service

import (
	"errors"
	"testing"

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

package cell

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestLBLimitsValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		l  LBLimits
		ok bool
	}{
		"zero: the defaults":     {LBLimits{}, true},
		"defaults":               {defaultLBLimits(), true},
		"total lowered":          {LBLimits{MaxConnections: 1000}, true},
		"per endpoint half":      {LBLimits{MaxConnections: 1000, MaxConnectionsPerEndpoint: 500}, true},
		"per endpoint over half": {LBLimits{MaxConnections: 1000, MaxConnectionsPerEndpoint: 501}, false},
		"negative total":         {LBLimits{MaxConnections: -1}, false},
		"negative timeout":       {LBLimits{FirstByteTimeout: -time.Second}, false},
		"negative per endpoint":  {LBLimits{MaxConnectionsPerEndpoint: -1}, false},
		"timeout shortened":      {LBLimits{FirstByteTimeout: time.Second}, true},
	} {
		t.Run(name, func(t *testing.T) {
			err := Tuning{LB: tc.l}.Validate()
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, errdefs.ErrInvalidConfig)) {
				t.Fatalf("Validate(%+v) = %v, want ok=%v or ErrInvalidConfig", tc.l, err, tc.ok)
			}
		})
	}
}

// Only limits that differ from the defaults reach the command lines, so an
// unchanged balancer is adopted rather than restarted; what up passes on, a
// cell parses back, and what a cell passes on names the balancer's flags.
func TestLBLimitsArgs(t *testing.T) {
	d := DefaultTuning()
	for name, tc := range map[string]struct {
		l        LBLimits
		cell, lb []string
	}{
		"defaults": {defaultLBLimits(), nil, nil},
		"zero":     {LBLimits{}, nil, nil},
		"all set": {LBLimits{MaxConnections: 1000, MaxConnectionsPerEndpoint: 100, FirstByteTimeout: 2 * time.Second},
			[]string{"--lb-max-connections", "1000", "--lb-max-connections-per-endpoint", "100", "--lb-first-byte-timeout", "2s"},
			[]string{"--max-connections", "1000", "--max-connections-per-endpoint", "100", "--first-byte-timeout", "2s"}},
	} {
		t.Run(name, func(t *testing.T) {
			tn := d
			tn.LB = tc.l
			if got := tn.Args(); !slices.Equal(got, tc.cell) {
				t.Errorf("Args() = %q, want %q", got, tc.cell)
			}
			if got := tc.l.args(""); !slices.Equal(got, tc.lb) {
				t.Errorf("balancer args = %q, want %q", got, tc.lb)
			}
			var parsed Tuning
			f := pflag.NewFlagSet("cell run", pflag.ContinueOnError)
			parsed.AddFlags(f)
			if err := f.Parse(tc.cell); err != nil {
				t.Fatal(err)
			}
			want := tn.WithDefaults()
			if tc.cell == nil {
				want.LB = LBLimits{} // the flags' zero is the balancer's defaults
			}
			if parsed != want {
				t.Errorf("a cell given %q runs with %+v, want %+v", tc.cell, parsed, want)
			}
		})
	}
}

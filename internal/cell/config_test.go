package cell

import (
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/spf13/pflag"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// The knobs that were environment variables of the old service
// (CELLPLANE_DEFRAG_MIN_*, CELLPLANE_APISERVER_GOAWAY_CHANCE) are flags now;
// these tests keep what their tests checked: which values are refused, what
// the defaults are, and that only a change reaches a cell's command line.

func TestTuningValidate(t *testing.T) {
	d := DefaultTuning()
	for name, tc := range map[string]struct {
		t  Tuning
		ok bool
	}{
		"zero: the defaults":    {Tuning{}, true},
		"defaults":              {d, true},
		"goaway off":            {Tuning{GoawayChance: 0, DefragMinDBBytes: d.DefragMinDBBytes}, true},
		"goaway at the maximum": {Tuning{GoawayChance: 0.02}, true},
		"goaway small":          {Tuning{GoawayChance: 0.005}, true},
		"goaway over the max":   {Tuning{GoawayChance: 0.5}, false},
		"goaway negative":       {Tuning{GoawayChance: -0.1}, false},
		"defrag lowered":        {Tuning{DefragMinDBBytes: 16 << 20, DefragMinFragmentation: 0.3}, true},
		"defrag bytes negative": {Tuning{DefragMinDBBytes: -1}, false},
		"fragmentation all":     {Tuning{DefragMinFragmentation: 1}, true},
		"fragmentation over 1":  {Tuning{DefragMinFragmentation: 1.5}, false},
		"fragmentation below 0": {Tuning{DefragMinFragmentation: -0.1}, false},
		"cpu cap 1.5 cores":     {Tuning{TenantCPUMax: 1.5}, true},
		"cpu cap 0.1 cores":     {Tuning{TenantCPUMax: 0.1}, true},
		"cpu cap below 0.1":     {Tuning{TenantCPUMax: 0.05}, false},
		"cpu cap negative":      {Tuning{TenantCPUMax: -1}, false},
		"cpu cap beyond 1024":   {Tuning{TenantCPUMax: 5000}, false},
		"two bring-ups":         {Tuning{BringUpSlots: 2}, true},
		"64 bring-ups":          {Tuning{BringUpSlots: 64}, true},
		"65 bring-ups":          {Tuning{BringUpSlots: 65}, false},
		"bring-ups negative":    {Tuning{BringUpSlots: -1}, false},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.t.Validate()
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, errdefs.ErrInvalidConfig)) {
				t.Fatalf("Validate(%+v) = %v, want ok=%v or ErrInvalidConfig", tc.t, err, tc.ok)
			}
		})
	}
}

func TestTuningWithDefaults(t *testing.T) {
	d := DefaultTuning()
	if d.GoawayChance != DefaultGoawayChance || d.DefragMinDBBytes != etcdcare.DefaultMinDBSize ||
		d.DefragMinFragmentation != etcdcare.DefaultMinFragmentation {
		t.Fatalf("DefaultTuning() = %+v, want the goaway and etcd care defaults", d)
	}
	for name, tc := range map[string]struct{ in, want Tuning }{
		"zero is the defaults": {Tuning{}, d},
		"defaults stay":        {d, d},
		"goaway set": {Tuning{GoawayChance: 0.02},
			Tuning{GoawayChance: 0.02, DefragMinDBBytes: d.DefragMinDBBytes, DefragMinFragmentation: d.DefragMinFragmentation}},
		// A tuning that is not all zero keeps its goaway chance as it is:
		// zero there means off, as the flag's zero does.
		"defrag lowered, goaway off": {Tuning{DefragMinDBBytes: 16 << 20, DefragMinFragmentation: 0.3},
			Tuning{DefragMinDBBytes: 16 << 20, DefragMinFragmentation: 0.3}},
		"one threshold lowered": {Tuning{GoawayChance: d.GoawayChance, DefragMinDBBytes: 16 << 20},
			Tuning{GoawayChance: d.GoawayChance, DefragMinDBBytes: 16 << 20, DefragMinFragmentation: d.DefragMinFragmentation}},
	} {
		t.Run(name, func(t *testing.T) {
			if got := tc.in.WithDefaults(); got != tc.want {
				t.Fatalf("WithDefaults(%+v) = %+v, want %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestTuningArgs(t *testing.T) {
	d := DefaultTuning()
	for name, tc := range map[string]struct {
		t    Tuning
		want []string
	}{
		// Nothing for the defaults, so a cell started by an earlier up keeps
		// its command line and is adopted, not restarted.
		"zero":     {Tuning{}, nil},
		"defaults": {d, nil},
		"goaway": {Tuning{GoawayChance: 0.02, DefragMinDBBytes: d.DefragMinDBBytes, DefragMinFragmentation: d.DefragMinFragmentation},
			[]string{"--apiserver-goaway-chance", "0.02"}},
		"goaway off": {Tuning{DefragMinDBBytes: d.DefragMinDBBytes, DefragMinFragmentation: d.DefragMinFragmentation},
			[]string{"--apiserver-goaway-chance", "0"}},
		"defrag lowered": {Tuning{GoawayChance: d.GoawayChance, DefragMinDBBytes: 16 << 20, DefragMinFragmentation: 0.3},
			[]string{"--defrag-min-db-bytes", "16777216", "--defrag-min-fragmentation", "0.3"}},
		"cpu cap": {Tuning{GoawayChance: d.GoawayChance, DefragMinDBBytes: d.DefragMinDBBytes, DefragMinFragmentation: d.DefragMinFragmentation, TenantCPUMax: 1.5},
			[]string{"--tenant-cpu-max", "1.5"}},
		"bring-up slots": {Tuning{GoawayChance: d.GoawayChance, DefragMinDBBytes: d.DefragMinDBBytes, DefragMinFragmentation: d.DefragMinFragmentation, BringUpSlots: 3},
			[]string{"--bringup-slots", "3"}},
	} {
		t.Run(name, func(t *testing.T) {
			args := tc.t.Args()
			if !slices.Equal(args, tc.want) {
				t.Fatalf("Args(%+v) = %q, want %q", tc.t, args, tc.want)
			}
			// What up passes on, a cell parses back to the same tuning.
			var parsed Tuning
			f := pflag.NewFlagSet("cell run", pflag.ContinueOnError)
			parsed.AddFlags(f)
			if err := f.Parse(args); err != nil {
				t.Fatalf("parsing %q: %v", args, err)
			}
			if want := tc.t.WithDefaults(); parsed != want {
				t.Errorf("a cell given %q runs with %+v, want %+v", args, parsed, want)
			}
		})
	}
}

// Flags that are not numbers are refused when parsed, before Validate.
func TestTuningFlagsRefuseNonNumbers(t *testing.T) {
	for _, args := range [][]string{
		{"--defrag-min-db-bytes", "16Mi"},
		{"--apiserver-goaway-chance", "often"},
		// Zero would mean "the default" to WithDefaults, not what a user typing
		// 0 meant: refused on the command line.
		{"--defrag-min-db-bytes", "0"},
		{"--defrag-min-db-bytes", "-5"},
		{"--defrag-min-fragmentation", "0"},
		{"--defrag-min-fragmentation", "1.5"},
	} {
		var tn Tuning
		f := pflag.NewFlagSet("cell run", pflag.ContinueOnError)
		f.SetOutput(io.Discard)
		tn.AddFlags(f)
		if err := f.Parse(args); err == nil {
			t.Errorf("parsing %q succeeded", args)
		}
	}
}

func TestTuningFlags(t *testing.T) {
	var tn Tuning
	f := pflag.NewFlagSet("up", pflag.ContinueOnError)
	tn.AddFlags(f)
	if err := f.Parse(nil); err != nil || tn != DefaultTuning() {
		t.Fatalf("no flags: %+v, %v; want the defaults", tn, err)
	}
	if err := f.Parse([]string{"--defrag-min-db-bytes", "16777216", "--defrag-min-fragmentation", "0.3", "--apiserver-goaway-chance", "0"}); err != nil {
		t.Fatal(err)
	}
	if want := (Tuning{DefragMinDBBytes: 16 << 20, DefragMinFragmentation: 0.3}); tn != want {
		t.Fatalf("parsed %+v, want %+v", tn, want)
	}
}

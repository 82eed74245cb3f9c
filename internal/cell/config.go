package cell

import (
	"cmp"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/spf13/pflag"

	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// Config configures one cell's own process.
type Config struct {
	// DataDir is the service's data directory; the cell keeps its state under
	// DataDir/cells/cell-<Index>.
	DataDir string
	// Index is the cell's number, from 1.
	Index int
	// CacheDir is the component cache; empty means components.DefaultCacheDir().
	CacheDir string
	// CreateTimeout bounds how long a control plane may take to become healthy.
	CreateTimeout time.Duration
	// Backup says where the cell keeps its clusters' backups.
	Backup backup.Config
	// Tuning adjusts how the cell runs control planes and looks after them.
	Tuning Tuning
	Logger *slog.Logger
}

// DefaultGoawayChance is the --goaway-chance Kubernetes recommends starting
// from: one HTTP/2 request in a thousand ends its connection gracefully, so a
// busy client moves to another API server within seconds to minutes, and a
// restarted server gets its share of connections back. The maximum is 0.02.
const DefaultGoawayChance = 0.001

// Tuning is what an operator (or a test) may adjust about how a cell runs
// and looks after control planes, beyond the defaults. `cellplane up` takes
// the same flags and passes on what differs from the defaults to every cell.
type Tuning struct {
	// GoawayChance is every API server's --goaway-chance, from 0 (off) to
	// 0.02 (kube-apiserver's limit). Changing it restarts every API server once.
	GoawayChance float64
	// DefragMinDBBytes is the backend size below which etcd care never
	// defragments a member; DefragMinFragmentation the share of the backend
	// that must be free, above 0 and at most 1.
	DefragMinDBBytes       int64
	DefragMinFragmentation float64
	// Certs is how long tenant certificates live; zero means the defaults.
	Certs CertTuning
	// LB is the cell load balancer's connection limits; zero fields are the
	// balancer's defaults.
	LB LBLimits
	// TenantCPUMax caps the cores one cluster's control plane may use
	// together, however idle the machine, when clusters have cgroups, in
	// every state of the cluster; zero means no cap while a cluster starts
	// or changes and cgroup.DefaultSettledCPUMaxMilli (half the machine)
	// once it is ACTIVE and Ready.
	// A change applies to running clusters at their next pass, with no
	// restart.
	TenantCPUMax float64
	// APIServerRuntimeConfig serves or stops serving API versions on the
	// API servers of one minor: "<minor>:<group>/<version>=<true|false>",
	// comma-separated. Operator-only (tests enable a beta API a later minor
	// drops); changing it restarts the API servers of that minor once.
	APIServerRuntimeConfig string
	// BringUpSlots is the most new control planes the cell brings up at
	// once; the rest queue in creation order. Zero means
	// bringup.AutoSlots of the machine's cores.
	BringUpSlots int
}

// WithDefaults fills what t leaves zero: a zero Tuning is DefaultTuning, and
// zero defragmentation thresholds are etcd care's defaults.
func (t Tuning) WithDefaults() Tuning {
	if t == (Tuning{}) {
		return DefaultTuning()
	}
	d := DefaultTuning()
	t.DefragMinDBBytes = cmp.Or(t.DefragMinDBBytes, d.DefragMinDBBytes)
	t.DefragMinFragmentation = cmp.Or(t.DefragMinFragmentation, d.DefragMinFragmentation)
	return t
}

// DefaultTuning is the tuning of a cell started without flags.
func DefaultTuning() Tuning {
	return Tuning{GoawayChance: DefaultGoawayChance, DefragMinDBBytes: etcdcare.DefaultMinDBSize,
		DefragMinFragmentation: etcdcare.DefaultMinFragmentation}
}

// AddFlags registers the tuning's flags, with the defaults as their values.
// The defragmentation thresholds refuse zero on the command line: zero means
// "the default" only to code that leaves a field unset (WithDefaults), and a
// user who types 0 means something else.
func (t *Tuning) AddFlags(f *pflag.FlagSet) {
	d := DefaultTuning()
	f.Float64Var(&t.GoawayChance, "apiserver-goaway-chance", d.GoawayChance,
		"share of HTTP/2 requests after which an API server asks its client to reconnect, 0 (off) to 0.02; changing it restarts every API server once")
	t.DefragMinDBBytes, t.DefragMinFragmentation = d.DefragMinDBBytes, d.DefragMinFragmentation
	f.Var((*positiveBytes)(&t.DefragMinDBBytes), "defrag-min-db-bytes",
		"etcd care defragments a member only once its backend is at least this many bytes (above 0)")
	f.Var((*share)(&t.DefragMinFragmentation), "defrag-min-fragmentation",
		"etcd care defragments a member only once this share of its backend is free, above 0 and at most 1")
	t.Certs.AddFlags(f)
	t.LB.addFlags(f)
	f.Float64Var(&t.TenantCPUMax, "tenant-cpu-max", 0,
		"cores one cluster's control plane may use at most, even on an idle machine, from 0.1 (the machine's core count: no cap; 0: half the machine once the cluster is ACTIVE and Ready, no cap while it starts or changes); needs root")
	f.IntVar(&t.BringUpSlots, "bringup-slots", 0,
		"the most new control planes a cell brings up at once, 1 to 64 (0: one per core, at least two); beyond the first, one starts only while the cores are under 80% busy, and the rest queue in creation order")
	f.StringVar(&t.APIServerRuntimeConfig, runtimeConfigFlag, "",
		"API versions to serve or not on the API servers of a minor, as <minor>:<group>/<version>=<true|false>, comma-separated (kube-apiserver --runtime-config)")
}

// maxTenantCPUMax is the largest --tenant-cpu-max: far beyond any machine.
const maxTenantCPUMax = 1024

// maxBringUpSlots is the largest --bringup-slots.
const maxBringUpSlots = 64

// tenantCPUMaxMilli is the cluster CPU cap the tuning sets, in thousandths
// of a core as cgroup.Limits holds it; zero leaves the default.
func (t Tuning) tenantCPUMaxMilli() int { return int(math.Round(t.TenantCPUMax * 1000)) }

// positiveBytes is a flag of a number of bytes above zero.
type positiveBytes int64

func (v *positiveBytes) String() string { return strconv.FormatInt(int64(*v), 10) }
func (v *positiveBytes) Type() string   { return "bytes" }
func (v *positiveBytes) Set(s string) error {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return fmt.Errorf("want a number of bytes above 0, got %q", s)
	}
	*v = positiveBytes(n)
	return nil
}

// share is a flag of a share above 0 and at most 1.
type share float64

func (v *share) String() string { return strconv.FormatFloat(float64(*v), 'f', -1, 64) }
func (v *share) Type() string   { return "share" }
func (v *share) Set(s string) error {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || f > 1 {
		return fmt.Errorf("want a share above 0 and at most 1, got %q", s)
	}
	*v = share(f)
	return nil
}

// Validate checks the tuning without touching anything; zero thresholds mean
// the defaults (WithDefaults).
func (t Tuning) Validate() error {
	switch {
	case t.GoawayChance < 0 || t.GoawayChance > 0.02:
		return fmt.Errorf("%w: --apiserver-goaway-chance %v is not a share between 0 and 0.02 (kube-apiserver's limit)", errdefs.ErrInvalidConfig, t.GoawayChance)
	case t.DefragMinDBBytes < 0:
		return fmt.Errorf("%w: --defrag-min-db-bytes %d is not a positive number of bytes", errdefs.ErrInvalidConfig, t.DefragMinDBBytes)
	case t.DefragMinFragmentation < 0 || t.DefragMinFragmentation > 1:
		return fmt.Errorf("%w: --defrag-min-fragmentation %v is not a share above 0 and at most 1", errdefs.ErrInvalidConfig, t.DefragMinFragmentation)
	case t.TenantCPUMax != 0 && !(t.TenantCPUMax >= 0.1 && t.TenantCPUMax <= maxTenantCPUMax):
		return fmt.Errorf("%w: --tenant-cpu-max %v is not a number of cores from 0.1 to %d (0 for the default)", errdefs.ErrInvalidConfig, t.TenantCPUMax, maxTenantCPUMax)
	case t.BringUpSlots < 0 || t.BringUpSlots > maxBringUpSlots:
		return fmt.Errorf("%w: --bringup-slots %d is not a number of bring-ups from 1 to %d (0 for one per core)", errdefs.ErrInvalidConfig, t.BringUpSlots, maxBringUpSlots)
	}
	if _, err := parseRuntimeConfig(t.APIServerRuntimeConfig); err != nil {
		return err
	}
	if err := t.Certs.Validate(); err != nil {
		return err
	}
	return t.LB.validate()
}

// Args are the flags that carry what differs from the defaults, for `up` to
// pass to a cell. Nothing for the defaults, so a cell started by an earlier
// `up` keeps the same command line and is adopted, not restarted.
func (t Tuning) Args() []string {
	t, d := t.WithDefaults(), DefaultTuning()
	var out []string
	if t.GoawayChance != d.GoawayChance {
		out = append(out, "--apiserver-goaway-chance", strconv.FormatFloat(t.GoawayChance, 'f', -1, 64))
	}
	if t.DefragMinDBBytes != d.DefragMinDBBytes {
		out = append(out, "--defrag-min-db-bytes", strconv.FormatInt(t.DefragMinDBBytes, 10))
	}
	if t.DefragMinFragmentation != d.DefragMinFragmentation {
		out = append(out, "--defrag-min-fragmentation", strconv.FormatFloat(t.DefragMinFragmentation, 'f', -1, 64))
	}
	if t.TenantCPUMax != 0 {
		out = append(out, "--tenant-cpu-max", strconv.FormatFloat(t.TenantCPUMax, 'f', -1, 64))
	}
	if t.APIServerRuntimeConfig != "" {
		out = append(out, "--"+runtimeConfigFlag, t.APIServerRuntimeConfig)
	}
	if t.BringUpSlots != 0 {
		out = append(out, "--bringup-slots", strconv.Itoa(t.BringUpSlots))
	}
	out = append(out, t.Certs.Args()...)
	return append(out, t.LB.args("lb-")...)
}

// defragPolicy is etcd care's policy under the tuning.
func (t Tuning) defragPolicy() etcdcare.Policy {
	return etcdcare.Policy{MinDBSize: t.DefragMinDBBytes, MinFragmentation: t.DefragMinFragmentation}
}

// Validate checks the configuration without touching anything.
func (c Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("%w: a data directory is required", errdefs.ErrInvalidConfig)
	}
	if c.CreateTimeout < 0 {
		return fmt.Errorf("%w: negative create timeout", errdefs.ErrInvalidConfig)
	}
	if err := c.Tuning.Validate(); err != nil {
		return err
	}
	return c.Backup.Validate()
}

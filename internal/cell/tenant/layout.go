package tenant

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/platform"
	"github.com/cellplane/cellplane/internal/runtime/cgroup"
	"github.com/cellplane/cellplane/internal/runtime/tenantuser"
)

// Layout is where a cell keeps its clusters and how it runs their control
// planes: everything a plan needs besides the cluster itself.
type Layout struct {
	// Dir is the cell's directory; clusters live in Dir/clusters.
	Dir string
	// Cell is the cell's address plan.
	Cell ipam.Cell
	// GoawayChance is every API server's --goaway-chance; zero leaves it off.
	GoawayChance float64
	// RuntimeConfig maps a Kubernetes minor to its API servers'
	// --runtime-config; a minor missing from it runs without the flag.
	RuntimeConfig map[string]string
	// Platforms resolves a cluster's platform version; its store is the
	// cell's, where agents copy the registered versions its clusters use.
	Platforms platform.Catalog
	// ZoneNetNS maps a zone to the network namespace its members run in; nil
	// runs every member in cellplane's own.
	ZoneNetNS map[string]string
	// Components are the kinds every control plane runs; nil means
	// controlplane.Default().
	Components []controlplane.Component
	// Joined names the etcd members of a cluster that were added back to its
	// running etcd after losing their data (etcdstate keeps the record); nil
	// means none. It is a function so that this package needs no records.
	Joined func(clusterDir string) []string
	// Cellplane is the cellplane executable, which the KMS plugins run.
	Cellplane string
	// SecretsKeys returns the keys of the cluster in clusterDir as its KMS
	// plugins take them, "" when it has none; nil means none for any
	// cluster. A function, so that this package holds no keys.
	SecretsKeys func(clusterDir string) string
	// SignIn, when set, is the cell's sign-in server (its base URL, without
	// the cluster's path) that every API server authenticates tokens and
	// authorizes with; nil leaves the API servers without it.
	SignIn *controlplane.SignIn
	// Isolation, when set, isolates every cluster's processes: its own user,
	// cgroup and host names. Nil (cellplane not root) runs them as cellplane.
	Isolation *Isolation
}

// Isolation is how a cell isolates its clusters.
type Isolation struct {
	// Cgroups makes the clusters' cgroups; nil leaves cgroups out.
	Cgroups *cgroup.Manager
	// Limits are every cluster's cgroup limits; its memory limit grows by
	// what its etcd members may hold (clusterLimits).
	Limits cgroup.Limits
	// SettledCPUMaxMilli caps a cluster's CPU, on top of Limits, while it
	// is settled: ACTIVE and Ready at its last pass. A control plane bursts
	// while its processes start, and a cap then doubles its creation time;
	// once it serves, the cap keeps a busy tenant from taking the cores its
	// neighbours' next requests need. Zero: Limits alone.
	SettledCPUMaxMilli int
}

// CgroupName is cluster c's cgroup in the one the cell runs in: named by
// address block octet, so instances on one machine keep apart, then by the
// cluster's namespace and name, so operators find it.
//
// Clusters' groups sit right in the cell's group, not in one more group per
// cell: CPU weight is shared out level by level, so under a
// common parent every cluster of the cell together would weigh as much as
// one process of the machine's root group (the kernel's autogroups give each
// session that much), and a busy neighbour would take half of that.
// Measured: a quiet cluster's GET p99 grew 20x next to a burner that way.
func CgroupName(cell ipam.Cell, c *v1alpha1.Cluster) string {
	return CellCgroupPrefix(cell) + c.Namespace + "." + c.Name
}

// CellCgroupPrefix starts the name of every cgroup of a cell's clusters.
func CellCgroupPrefix(cell ipam.Cell) string { return fmt.Sprintf("cellplane-%d.", cell.Octet()) }

func (l Layout) isolation(c *v1alpha1.Cluster) *controlplane.Isolation {
	if l.Isolation == nil || c.Status.Slot == nil {
		return nil
	}
	iso := &controlplane.Isolation{User: tenantuser.For(l.Cell.Octet(), int(*c.Status.Slot)), Limits: clusterLimits(*l.Isolation, c)}
	if l.Isolation.Cgroups != nil {
		iso.Cgroup = l.Isolation.Cgroups.Group(CgroupName(l.Cell, c))
	}
	return iso
}

// clusterLimits are c's cgroup limits: the cell's, with room on top of its
// memory for what its three etcd members may hold, since a member's memory
// grows with its database up to the quota. Under a fixed limit a tenant that
// filled its quota would have its members killed by the kernel, one after
// another (seen with 256 MiB written to a 2 GiB group). A settled cluster
// gets the settled CPU cap too.
func clusterLimits(iso Isolation, c *v1alpha1.Cluster) cgroup.Limits {
	base := iso.Limits
	quota := c.Spec.EtcdQuotaBytes
	if quota <= 0 {
		quota = v1alpha1.DefaultEtcdQuotaBytes
	}
	base.MemoryBytes += 3 * quota
	if iso.SettledCPUMaxMilli > 0 && Settled(c) {
		if base.CPUMaxMilli == 0 || iso.SettledCPUMaxMilli < base.CPUMaxMilli {
			base.CPUMaxMilli = iso.SettledCPUMaxMilli
		}
	}
	return base
}

// Settled reports whether c was ACTIVE and Ready at its last pass: nothing
// of it starts or restarts, so it needs no burst of CPU. A cluster that is
// creating, updating or degraded (a member restarting, say) is not.
func Settled(c *v1alpha1.Cluster) bool {
	if c.Status.Status != v1alpha1.StatusActive {
		return false
	}
	cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionReady)
	return cond != nil && cond.Status == metav1.ConditionTrue
}

// ClusterDir is where one cluster's certificates, configs, data and logs live.
func (l Layout) ClusterDir(c *v1alpha1.Cluster) string {
	return filepath.Join(l.Dir, "clusters", c.Namespace, c.Name)
}

// Plan is the plan processes are started from, on the baseline platform
// version; c must have a slot.
func (l Layout) Plan(c *v1alpha1.Cluster, kube components.KubernetesBinaries, etcd components.EtcdBinaries) *controlplane.Plan {
	return l.PlanFor(c, kube, etcd, platform.Version{})
}

// PlanFor is Plan on platform version pv (see Platforms.Resolve).
func (l Layout) PlanFor(c *v1alpha1.Cluster, kube components.KubernetesBinaries, etcd components.EtcdBinaries, pv platform.Version) *controlplane.Plan {
	in := controlplane.Input{
		Platform:  pv,
		Namespace: c.Namespace, Name: c.Name, UID: string(c.UID), ClusterName: c.Spec.Name,
		Dir: l.ClusterDir(c), Cell: l.Cell, Slot: int(*c.Status.Slot),
		Kubernetes: kube, Etcd: etcd, EtcdQuotaBytes: c.Spec.EtcdQuotaBytes,
		GoawayChance: l.GoawayChance, RuntimeConfig: l.RuntimeConfig[kube.Release.Minor], ZoneNetNS: l.ZoneNetNS, Components: l.Components, Cellplane: l.Cellplane,
		Isolation: l.isolation(c), IdentityProviders: c.Spec.IdentityProviders,
	}
	if e := c.Spec.Encryption; e != nil && e.KeyState == v1alpha1.KeyStateDisabled {
		// The keys stay in the cell, wrapped, but no process gets them
		// until the key is enabled again.
		in.SecretsKeyDisabled = "the customer key " + e.KeyARN + " is disabled"
	} else if l.SecretsKeys != nil {
		in.SecretsKeys = l.SecretsKeys(in.Dir)
	}
	if l.Joined != nil {
		in.EtcdJoined = l.Joined(in.Dir)
	}
	if l.SignIn != nil {
		s := *l.SignIn
		s.URL += "/clusters/" + c.Namespace + "/" + c.Name
		in.SignIn = &s
	}
	return controlplane.New(in)
}

// Addresses is c's plan without binaries: its addresses, files and process
// IDs, which is all that stopping, probing or connecting to it needs.
func (l Layout) Addresses(c *v1alpha1.Cluster) *controlplane.Plan {
	return l.Plan(c, components.KubernetesBinaries{}, components.EtcdBinaries{})
}

// Logger names the cluster on every line.
func Logger(base *slog.Logger, c *v1alpha1.Cluster) *slog.Logger {
	return base.With("cluster", c.Spec.Name, "namespace", c.Namespace)
}

// DetectIsolation finds what isolation this process can give clusters: all
// of it as root, cgroups included when the machine offers cpu, memory and
// pids controllers; none without root. err says what is missing, for the
// operator; the isolation returned is still what can be had.
func DetectIsolation() (*Isolation, error) {
	if err := tenantuser.Available(); err != nil {
		return nil, fmt.Errorf("%w: tenant clusters run without isolation, as cellplane's own user, in its cgroup, with its host name", err)
	}
	iso := &Isolation{Limits: cgroup.DefaultLimits(), SettledCPUMaxMilli: cgroup.DefaultSettledCPUMaxMilli(runtime.NumCPU())}
	m, err := cgroup.Detect()
	if err != nil {
		return iso, fmt.Errorf("tenant clusters get users and host names of their own but no cgroups: %w", err)
	}
	iso.Cgroups = m
	return iso, nil
}

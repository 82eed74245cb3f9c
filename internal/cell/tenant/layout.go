package tenant

import (
	"log/slog"
	"path/filepath"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/ipam"
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
}

// ClusterDir is where one cluster's certificates, configs, data and logs live.
func (l Layout) ClusterDir(c *v1alpha1.Cluster) string {
	return filepath.Join(l.Dir, "clusters", c.Namespace, c.Name)
}

// Plan is the plan processes are started from; c must have a slot.
func (l Layout) Plan(c *v1alpha1.Cluster, kube components.KubernetesBinaries, etcd components.EtcdBinaries) *controlplane.Plan {
	in := controlplane.Input{
		Namespace: c.Namespace, Name: c.Name, UID: string(c.UID), ClusterName: c.Spec.Name,
		Dir: l.ClusterDir(c), Cell: l.Cell, Slot: int(*c.Status.Slot),
		Kubernetes: kube, Etcd: etcd, EtcdQuotaBytes: c.Spec.EtcdQuotaBytes,
		GoawayChance: l.GoawayChance, ZoneNetNS: l.ZoneNetNS, Components: l.Components, Cellplane: l.Cellplane,
	}
	if l.SecretsKeys != nil {
		in.SecretsKeys = l.SecretsKeys(in.Dir)
	}
	if l.Joined != nil {
		in.EtcdJoined = l.Joined(in.Dir)
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

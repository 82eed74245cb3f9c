package down

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/cellplane/cellplane/internal/runtime/process"
)

// Kind is what a process is to cellplane; it decides when the process stops.
type Kind string

// The kinds of processes a data directory holds.
const (
	KindCell       Kind = "cell"       // a cell's own process, `cellplane cell run`
	KindLB         Kind = "lb"         // a cell's load balancer, `cellplane lb`
	KindController Kind = "controller" // kube-controller-manager, kube-scheduler
	KindAPIServer  Kind = "apiserver"  // kube-apiserver
	KindEtcd       Kind = "etcd"
	KindOther      Kind = "other" // a pid file down does not know
)

// tiers is the stop order; the kinds of one tier stop side by side. Cells come
// first because they supervise the rest and would restart it. Unknown processes
// stop with the controllers, before the stores they may need are gone.
var tiers = [][]Kind{
	{KindCell},
	{KindLB, KindController, KindOther},
	{KindAPIServer},
	{KindEtcd},
}

// Process is one running process of a data directory.
type Process struct {
	process.Recorded
	Kind Kind
	// Cluster is the tenant cluster the process belongs to, as
	// "<cell>/<namespace>/<name>"; empty for cellplane's own processes.
	Cluster string
}

// Tenant reports whether the process is part of a tenant control plane.
func (p Process) Tenant() bool { return p.Cluster != "" }

// Plan is what runs on a data directory.
type Plan struct {
	DataDir string
	// Up is the running `cellplane up`, nil when none runs.
	Up *Up
	// Processes are those the directory's pid files name, in the walk's order.
	Processes []Process
}

// Empty reports whether nothing runs.
func (p *Plan) Empty() bool { return p.Up == nil && len(p.Processes) == 0 }

// Tenant lists the processes of tenant control planes.
func (p *Plan) Tenant() []Process {
	var out []Process
	for _, x := range p.Processes {
		if x.Tenant() {
			out = append(out, x)
		}
	}
	return out
}

// Clusters lists the tenant clusters with a running process, sorted.
func (p *Plan) Clusters() []string {
	var out []string
	for _, x := range p.Tenant() {
		if !slices.Contains(out, x.Cluster) {
			out = append(out, x.Cluster)
		}
	}
	slices.Sort(out)
	return out
}

// Find lists what runs on dataDir. A directory that does not exist runs nothing.
func Find(dataDir string) (*Plan, error) {
	p := &Plan{DataDir: dataDir}
	if _, err := os.Stat(dataDir); errors.Is(err, fs.ErrNotExist) {
		return p, nil
	}
	p.Up = findUp(dataDir)
	recs, err := process.Running(dataDir)
	if err != nil {
		return nil, fmt.Errorf("finding cellplane's processes: %w", err)
	}
	for _, r := range recs {
		p.Processes = append(p.Processes, classify(dataDir, r))
	}
	return p, nil
}

// classify names a process from where its pid file lies in the data directory's
// layout (internal/service, internal/store, internal/cell):
//
//	cells/<cell>/controllers.pid                              the cell
//	cells/<cell>/lb/lb.pid                                    its load balancer
//	region/store/logs/<name>.pid, cells/<cell>/store/logs/... management stores
//	cells/<cell>/clusters/<namespace>/<name>/logs/<member>.pid tenant members
func classify(dataDir string, r process.Recorded) Process {
	p := Process{Recorded: r, Kind: kindOf(r.Name)}
	rel, err := filepath.Rel(dataDir, r.PIDFile())
	if err != nil {
		return p
	}
	parts := strings.Split(filepath.ToSlash(rel), "/")
	switch {
	case len(parts) == 3 && parts[0] == "cells" && parts[2] == "controllers.pid":
		p.Kind = KindCell
	case len(parts) == 7 && parts[0] == "cells" && parts[2] == "clusters" && parts[5] == "logs":
		p.Cluster = strings.Join([]string{parts[1], parts[3], parts[4]}, "/")
	}
	return p
}

// kindOf tells a member by its name: tenant members are named <component>-<zone>,
// store members <component>.
func kindOf(name string) Kind {
	for _, k := range []struct {
		prefix string
		kind   Kind
	}{
		{"kube-controller-manager", KindController},
		{"kube-scheduler", KindController},
		{"kube-apiserver", KindAPIServer},
		{"etcd", KindEtcd},
	} {
		if name == k.prefix || strings.HasPrefix(name, k.prefix+"-") {
			return k.kind
		}
	}
	if name == "lb" {
		return KindLB
	}
	return KindOther
}

// tierOf is the index in tiers of kind k.
func tierOf(k Kind) int {
	for i, t := range tiers {
		if slices.Contains(t, k) {
			return i
		}
	}
	return 1 // as KindOther
}

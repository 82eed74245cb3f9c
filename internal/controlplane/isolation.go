package controlplane

import (
	"github.com/cellplane/cellplane/internal/runtime/cgroup"
	"github.com/cellplane/cellplane/internal/runtime/process"
	"github.com/cellplane/cellplane/internal/runtime/tenantuser"
)

// Isolation keeps a cluster's processes apart from every other cluster's and
// from cellplane's secrets. It applies to every member of every kind alike,
// so a new kind is isolated with nothing to add.
type Isolation struct {
	// User is the cluster's own unprivileged user and group.
	User process.Credential
	// Cgroup is the cluster's control group, holding Limits.
	Cgroup *cgroup.Group
	Limits cgroup.Limits
}

// Isolation is how the cluster's members are isolated; nil when they run as
// cellplane does (not root).
func (p *Plan) Isolation() *Isolation { return p.in.Isolation }

// TenantDirs names the cluster's directories by what its processes do with
// them: they read the PKI and configs and write their logs (audit logs).
// etcd members' data directories are their own (tenantuser.OwnTree).
func (p *Plan) TenantDirs() tenantuser.Dirs {
	writable := []string{p.LogDir()}
	for _, c := range p.Components() {
		if w, ok := c.(tenantWriter); ok {
			writable = append(writable, w.TenantWritable(p)...)
		}
	}
	return tenantuser.Dirs{
		Cluster:  p.in.Dir,
		Shared:   []string{p.PKIDir(), p.ConfigDir()},
		Writable: writable,
	}
}

// tenantWriter is a Component whose members create files of their own in
// the cluster's directory besides logs (a plugin's socket).
type tenantWriter interface {
	TenantWritable(p *Plan) []string
}

// isolate adds the plan's isolation to member m's process: the cluster's
// user, cgroup and a host name of the member's own. The host name is what
// each API server derives its identity lease from; shared, two API servers
// of a cluster would fight over one lease.
func (p *Plan) isolate(s *process.Spec, m Member) {
	iso := p.in.Isolation
	if iso == nil {
		return
	}
	u := iso.User
	s.User = &u
	s.Hostname = m.Name()
	if iso.Cgroup != nil {
		s.Cgroup = iso.Cgroup
	}
}

package controlplane

import (
	"testing"

	"github.com/cellplane/cellplane/internal/runtime/process"
)

// TestIsolationReachesEveryMember: every member of every kind gets the
// cluster's user and cgroup and a host name of its own, and without
// isolation none; neither changes what a member runs.
func TestIsolationReachesEveryMember(t *testing.T) {
	in := testInput(t, t.TempDir(), 3)
	plain := New(in)
	in.Isolation = &Isolation{User: process.Credential{UID: 7, GID: 8, Groups: []uint32{9}}}
	iso := New(in)
	hosts := map[string]bool{}
	for _, m := range iso.AllMembers() {
		s, bare := iso.Spec(m), plain.Spec(m)
		if s.User == nil || s.User.UID != 7 || s.User.GID != 8 || s.Hostname != m.Name() {
			t.Errorf("%s: user %+v host %q; want the cluster's user and its member name", m.Name(), s.User, s.Hostname)
		}
		if s.Cgroup != nil {
			t.Errorf("%s: a cgroup without one in the plan: a nil group must not become a non-nil interface", m.Name())
		}
		if bare.User != nil || bare.Hostname != "" || bare.Cgroup != nil {
			t.Errorf("%s: isolated without isolation: %+v", m.Name(), bare)
		}
		if s.Path != bare.Path || len(s.Args) != len(bare.Args) {
			t.Errorf("%s: isolation changed the command line", m.Name())
		}
		if hosts[s.Hostname] {
			t.Errorf("two members share host name %s", s.Hostname)
		}
		hosts[s.Hostname] = true
	}
	d := iso.TenantDirs()
	if d.Cluster != iso.Dir() || len(d.Shared) != 2 || d.Writable[0] != iso.LogDir() {
		t.Errorf("tenant dirs %+v", d)
	}
}

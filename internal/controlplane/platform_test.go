package controlplane

import (
	"slices"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/platform"
)

// A platform version's overlay reaches the members' command lines, and only
// those of the kinds it names; the baseline changes no argument.
func TestPlatformOverlay(t *testing.T) {
	in := testInput(t, t.TempDir(), testSlots[0])
	base := New(in)
	in.Platform = platform.Version{Name: "cellplane.9", Overlay: platform.Overlay{
		Args:        map[string][]string{KindAPIServer: {"--profiling=true", "--max-requests-inflight=800"}},
		AuditPolicy: "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n"}}
	p := New(in)
	if p.PlatformVersion() != "cellplane.9" || base.PlatformVersion() != "" {
		t.Errorf("platform versions %q and %q", p.PlatformVersion(), base.PlatformVersion())
	}
	for _, m := range p.Members(KindAPIServer) {
		f := flags(t, p.Spec(m).Args)
		if f["profiling"] != "true" || f["max-requests-inflight"] != "800" {
			t.Errorf("%s flags %v lack the overlay", m.Name(), f)
		}
		if !strings.HasSuffix(f["audit-policy-file"], "audit-policy-cellplane.9.yaml") {
			t.Errorf("%s reads audit policy %s, want the version's own file", m.Name(), f["audit-policy-file"])
		}
		if n := len(p.Spec(m).Args); n != len(base.Spec(m).Args)+1 {
			t.Errorf("%s has %d args, want the baseline's %d plus one", m.Name(), n, len(base.Spec(m).Args))
		}
	}
	for _, m := range p.Members(KindScheduler) {
		if !slices.Equal(p.Spec(m).Args, base.Spec(m).Args) {
			t.Errorf("%s changed by an overlay for the API servers", m.Name())
		}
	}
	baseline := in
	baseline.Platform = platform.Version{Name: platform.Baseline}
	for _, m := range New(baseline).AllMembers() {
		if !slices.Equal(New(baseline).Spec(m).Args, base.Spec(m).Args) {
			t.Errorf("the baseline changes %s's arguments", m.Name())
		}
	}
}

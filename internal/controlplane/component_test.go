package controlplane

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// sidecar is a component kind that exists only in this file: adding a kind
// to a plan takes nothing but an implementation of Component.
type sidecar struct{ checked *[]string }

func (sidecar) Kind() string               { return "sidecar" }
func (sidecar) Zones() []string            { return []string{"a", "c"} }
func (sidecar) Address() (index, port int) { return 1, 7443 } // shares the API servers' address
func (sidecar) Tier() Tier                 { return TierAPI }
func (sidecar) Condition() string          { return "SidecarReady" }
func (sidecar) ZoneOut() ZoneOut           { return ZoneOutStop }

func (sidecar) Command(p *Plan, m Member) (string, []string) {
	return "/bin/sidecar", []string{"--listen=" + m.Address(), "--config=" + filepath.Join(p.ConfigDir(), "sidecar.conf")}
}

func (sidecar) WriteFiles(p *Plan) error {
	if err := os.MkdirAll(p.ConfigDir(), 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(p.ConfigDir(), "sidecar.conf"), []byte("ok"), 0o600)
}

func (s sidecar) Check(_ context.Context, _ *Prober, m Member) error {
	*s.checked = append(*s.checked, m.Name())
	if m.Zone == "c" {
		return ErrUnhealthy
	}
	return nil
}

func TestAddedComponentKind(t *testing.T) {
	var checked []string
	in := testInput(t, t.TempDir(), 5)
	in.Components = append(Default(), sidecar{checked: &checked})
	p := New(in)

	side := p.Members("sidecar")
	if len(side) != 2 || side[0].Name() != "sidecar-a" || side[1].Name() != "sidecar-c" {
		t.Fatalf("Members(sidecar) = %+v, want sidecar-a and sidecar-c", side)
	}
	// Its address is the API server's of its zone, on its own port.
	if api := p.member(KindAPIServer, "a"); !side[0].IP.Equal(api.IP) || side[0].Address() == api.Address() {
		t.Errorf("sidecar-a serves on %s, API server on %s: want the same IP, another port", side[0].Address(), api.Address())
	}
	// Start order: by tier, so the sidecar starts with the API servers,
	// before the controllers.
	var order []string
	for _, m := range p.AllMembers() {
		order = append(order, m.Name())
	}
	if i, j := slices.Index(order, "sidecar-a"), slices.Index(order, "kube-controller-manager-a"); i < 0 || j < 0 || i > j ||
		slices.Index(order, "kube-apiserver-b") > i {
		t.Errorf("start order %q: want the sidecar after the API servers and before the controllers", order)
	}
	// Teardown: controllers, then the API tier with the sidecar, then etcd.
	tiers := p.Tiers()
	if len(tiers) != 3 || !slices.ContainsFunc(tiers[1], func(m Member) bool { return m.Kind == "sidecar" }) {
		t.Errorf("Tiers() = %v: want the sidecar in the second tier to stop", tierNames(tiers))
	}

	spec := p.Spec(side[1])
	if spec.Path != "/bin/sidecar" || spec.Name != "sidecar-c" || spec.ID != p.ID()+"/sidecar-c" || len(spec.Args) != 2 {
		t.Errorf("Spec(sidecar-c) = %+v", spec)
	}
	if err := p.WriteConfigs(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p.ConfigDir(), "sidecar.conf")); err != nil {
		t.Errorf("the sidecar's file was not written: %v", err)
	}
	if _, err := os.Stat(p.AuditPolicyPath()); err != nil {
		t.Errorf("the default kinds' files were not written beside it: %v", err)
	}

	pr := &Prober{plan: p}
	if err := pr.Check(context.Background(), side[0]); err != nil {
		t.Errorf("Check(sidecar-a) = %v", err)
	}
	if err := pr.Check(context.Background(), side[1]); !errors.Is(err, ErrUnhealthy) {
		t.Errorf("Check(sidecar-c) = %v, want ErrUnhealthy", err)
	}
	if !slices.Equal(checked, []string{"sidecar-a", "sidecar-c"}) {
		t.Errorf("the prober checked %q, want it to ask the sidecar's own check", checked)
	}

	// Plans without it are unchanged: the kind lives only in this file.
	if got := New(testInput(t, t.TempDir(), 5)).Members("sidecar"); got != nil {
		t.Errorf("a default plan runs %d sidecars", len(got))
	}
}

func tierNames(tiers [][]Member) [][]string {
	var out [][]string
	for _, tier := range tiers {
		var names []string
		for _, m := range tier {
			names = append(names, m.Name())
		}
		out = append(out, names)
	}
	return out
}

func TestDefaultComponentsInStartOrder(t *testing.T) {
	var kinds []string
	for _, c := range Default() {
		kinds = append(kinds, c.Kind())
	}
	if want := []string{KindEtcd, KindAPIServer, KindKMSPlugin, KindControllerManager, KindScheduler}; !slices.Equal(kinds, want) {
		t.Errorf("Default() = %q, want %q", kinds, want)
	}
	p := New(testInput(t, t.TempDir(), 0))
	want := [][]string{
		{"kms-plugin-a", "kms-plugin-b", "kube-controller-manager-a", "kube-controller-manager-b", "kube-scheduler-a", "kube-scheduler-b"},
		{"kube-apiserver-a", "kube-apiserver-b"},
		{"etcd-a", "etcd-b", "etcd-c"},
	}
	if got := tierNames(p.Tiers()); !slices.EqualFunc(got, want, slices.Equal) {
		t.Errorf("Tiers() = %q, want %q", got, want)
	}
}

package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/internal/controlplane"
)

// authenticator is a component kind that exists only in this file, the way a
// KMS plugin, a webhook or a token authenticator would be added: everything
// the cell does with a kind follows from its Component implementation.
type authenticator struct{}

const authenticatorReady = "AuthenticatorReady"

func (authenticator) Kind() string               { return "authenticator" }
func (authenticator) Zones() []string            { return []string{"a", "b"} }
func (authenticator) Address() (index, port int) { return 1, 21362 }
func (authenticator) Tier() controlplane.Tier    { return controlplane.TierAPI }
func (authenticator) Condition() string          { return authenticatorReady }
func (authenticator) ZoneOut() controlplane.ZoneOut {
	return controlplane.ZoneOutStop
}

func (authenticator) Command(p *controlplane.Plan, m controlplane.Member) (string, []string) {
	return "/fake/authenticator", []string{"--listen=" + m.Address(), "--config=" + filepath.Join(p.ConfigDir(), "authenticator.yaml")}
}

func (authenticator) WriteFiles(p *controlplane.Plan) error {
	return os.WriteFile(filepath.Join(p.ConfigDir(), "authenticator.yaml"), []byte("mode: test\n"), 0o600)
}

// Check passes in zone a only, so the condition shows which member failed.
func (authenticator) Check(_ context.Context, _ *controlplane.Prober, m controlplane.Member) error {
	if m.Zone == "a" {
		return nil
	}
	return controlplane.ErrUnhealthy
}

func TestAddedComponentKindRunsThroughThePass(t *testing.T) {
	ctx := context.Background()
	c := create(t, testCluster(t))
	r, runner, _ := newReconciler(t)
	r.Layout.Components = append(controlplane.Default(), authenticator{})

	if _, err := r.Reconcile(ctx, request(c)); err != nil {
		t.Fatal(err)
	}
	stored := get(t, r.Client, c)
	p := r.Layout.Plan(stored, testKube, testEtcd)

	// Started with its command, after the API servers and before the controllers.
	ensured, _ := runner.calls()
	var order []string
	for _, s := range ensured {
		order = append(order, s.Name)
		if s.Name == "authenticator-b" && (s.Path != "/fake/authenticator" || len(s.Args) != 2) {
			t.Errorf("authenticator-b runs %s %q", s.Path, s.Args)
		}
	}
	ia, ic := slices.Index(order, "authenticator-a"), slices.Index(order, "kube-controller-manager-a")
	if ia < 0 || slices.Index(order, "authenticator-b") < 0 || ia < slices.Index(order, "kube-apiserver-b") || ia > ic {
		t.Errorf("started %q: want both authenticators after the API servers and before the controllers", order)
	}
	// Its files were written with the others'.
	if _, err := os.Stat(filepath.Join(p.ConfigDir(), "authenticator.yaml")); err != nil {
		t.Errorf("its config was not written: %v", err)
	}
	// Its check feeds its own condition and the component list.
	cond := meta.FindStatusCondition(stored.Status.Conditions, authenticatorReady)
	if cond == nil || cond.Status != metav1.ConditionFalse || cond.Message != "not healthy: authenticator-b" {
		t.Errorf("%s = %+v, want False naming authenticator-b", authenticatorReady, cond)
	}
	var listed []string
	for _, cs := range stored.Status.Components {
		if cs.Name == "authenticator-a" && !cs.Ready {
			t.Errorf("authenticator-a passed its check but is listed %+v", cs)
		}
		listed = append(listed, cs.Name)
	}
	if !slices.Contains(listed, "authenticator-a") || !slices.Contains(listed, "authenticator-b") || len(listed) != 13 {
		t.Errorf("components %q: want the 11 default members and both authenticators", listed)
	}

	// A shift of zone b stops it there, as its ZoneOut says.
	if r.Zones.StoppedByShift(p.Members("authenticator")[1]) {
		t.Error("no zone is out, yet authenticator-b counts as stopped by a shift")
	}

	// Teardown stops it with its tier: after the controllers, before etcd.
	if err := r.Client.Delete(ctx, stored); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, request(c)); err != nil {
		t.Fatal(err)
	}
	_, stopped := runner.calls()
	var names []string
	for _, s := range stopped {
		names = append(names, s.Name)
	}
	is := slices.Index(names, "authenticator-a")
	if len(stopped) != 13 || is < slices.Index(names, "kube-scheduler-b") || is > slices.Index(names, "etcd-a") {
		t.Errorf("stopped %q: want 13, the authenticators with the API servers", names)
	}
}

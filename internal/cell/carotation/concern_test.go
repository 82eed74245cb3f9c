package carotation

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// idleRunner runs nothing, so no controller waits for a restart.
type idleRunner struct{}

func (idleRunner) Ensure(context.Context, process.Spec) (process.Status, error) {
	return process.Status{}, nil
}
func (idleRunner) Stop(context.Context, process.Spec) error { return nil }
func (idleRunner) Status(string) (process.Status, bool)     { return process.Status{}, false }

// diskProber answers as API servers that reloaded the files on disk would:
// they accept what the bundle lists and serve their certificate on disk.
type diskProber struct{}

func (diskProber) Accepts(_ context.Context, p *controlplane.Plan, ca *pki.CA) (map[string]bool, error) {
	data, err := os.ReadFile(p.Files().CABundle)
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseBundle(data)
	if err != nil {
		return nil, err
	}
	ok := false
	for _, c := range certs {
		ok = ok || c.Equal(ca.Cert)
	}
	return perAPIServer(p, ok), nil
}

func (diskProber) Serves(_ context.Context, p *controlplane.Plan, ca *pki.CA) (map[string]bool, error) {
	out := map[string]bool{}
	for _, m := range p.Members(controlplane.KindAPIServer) {
		data, err := os.ReadFile(p.Files().APIServer[m.Name()].Cert)
		if err != nil {
			return nil, err
		}
		certs, err := pki.ParseBundle(data)
		if err != nil {
			return nil, err
		}
		out[m.Name()] = certs[0].CheckSignatureFrom(ca.Cert) == nil
	}
	return out, nil
}

func perAPIServer(p *controlplane.Plan, v bool) map[string]bool {
	out := map[string]bool{}
	for _, m := range p.Members(controlplane.KindAPIServer) {
		out[m.Name()] = v
	}
	return out
}

type fixture struct {
	p  *controlplane.Plan
	c  *v1alpha1.Cluster
	cn *Concern
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	b, err := ipam.ParseBlock("127.248", 1)
	if err != nil {
		t.Fatal(err)
	}
	p := controlplane.New(controlplane.Input{Namespace: "acct-1", Name: "demo", UID: "uid-demo", ClusterName: "demo",
		Dir: t.TempDir(), Cell: b.Cell(1), Slot: 3})
	return &fixture{p: p, c: &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{Name: "demo"}},
		cn: &Concern{Runner: idleRunner{}, Logger: slog.New(slog.DiscardHandler), Prober: diskProber{}}}
}

// pass runs what a cluster pass runs of the rotation: certificates, then the
// concern, again at once after a swap as ErrReplan asks.
func (f *fixture) pass(t *testing.T) {
	t.Helper()
	for range 3 {
		if _, err := pki.EnsureCluster(f.p.PKIDir(), f.p.PKISpec()); err != nil {
			t.Fatal(err)
		}
		err := f.cn.Reconcile(context.Background(), f.c, f.p)
		if errors.Is(err, tenant.ErrReplan) {
			t.Logf("replan: signer now %s", pki.CAID(f.signer(t)))
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Fatal("the concern asked for a new pass three times in a row")
}

func (f *fixture) status(t *testing.T, id string) v1alpha1.CertificateAuthorityStatus {
	t.Helper()
	for _, st := range f.c.Status.CertificateAuthorities {
		if st.ID == id {
			return st
		}
	}
	t.Fatalf("CA %s not reported; status %+v", id, f.c.Status.CertificateAuthorities)
	return v1alpha1.CertificateAuthorityStatus{}
}

func (f *fixture) signer(t *testing.T) *x509.Certificate {
	t.Helper()
	ca, err := pki.LoadCA(f.p.Files().CA, f.p.Files().CAKey)
	if err != nil {
		t.Fatal(err)
	}
	return ca.Cert
}

func (f *fixture) bundleLen(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile(f.p.Files().CABundle)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := pki.ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	return len(certs)
}

func TestRotation(t *testing.T) {
	f := newFixture(t)
	f.pass(t)
	first := f.signer(t)
	oldID := pki.CAID(first)
	if st := f.status(t, oldID); st.Distribution != v1alpha1.CADistributionComplete || st.Signing != v1alpha1.CASigningInUse || st.Data == "" {
		t.Fatalf("first CA before any rotation = %+v, want COMPLETE and IN_USE with data", st)
	}

	// Create: the successor joins the bundle, distributed once the controllers restarted.
	now := metav1.Now()
	f.c.Spec.CertificateAuthorities = []v1alpha1.CertificateAuthority{
		{ID: oldID, CreatedBy: v1alpha1.CABySystem, CreatedAt: now, Signer: true},
		{ID: "1b4e28ba-2fa1-11d2-883f-0016d3cca427", CreatedBy: v1alpha1.CAByCustomer, CreatedAt: now},
	}
	newID := f.c.Spec.CertificateAuthorities[1].ID
	f.pass(t)
	if st := f.status(t, newID); st.Distribution != v1alpha1.CADistributionInProgress || st.Signing != v1alpha1.CASigningNotUsed {
		t.Errorf("successor in the pass that wrote the bundle = %s/%s, want IN_PROGRESS/NOT_USED", st.Distribution, st.Signing)
	}
	if n := f.bundleLen(t); n != 2 {
		t.Fatalf("bundle holds %d CAs after create, want 2", n)
	}
	f.pass(t)
	if st := f.status(t, newID); st.Distribution != v1alpha1.CADistributionComplete {
		t.Fatalf("successor a pass later = %s, want COMPLETE", st.Distribution)
	}

	// Activate: the signer swaps and every leaf is reissued under it.
	f.c.Spec.CertificateAuthorities[0].Signer, f.c.Spec.CertificateAuthorities[1].Signer = false, true
	f.pass(t)
	if got := f.signer(t); got.Equal(first) {
		t.Fatal("signer unchanged after activation")
	}
	if st := f.status(t, newID); st.Signing != v1alpha1.CASigningInUse {
		t.Errorf("successor after activation = %s, want IN_USE once every API server serves its certificate", st.Signing)
	}
	if st := f.status(t, oldID); st.Signing != v1alpha1.CASigningNotUsed || st.Distribution != v1alpha1.CADistributionComplete {
		t.Errorf("old CA after activation = %s/%s, want NOT_USED/COMPLETE", st.Signing, st.Distribution)
	}

	// Delete: the old CA leaves the bundle, then the store.
	f.c.Spec.CertificateAuthorities = f.c.Spec.CertificateAuthorities[1:]
	f.pass(t)
	if st := f.status(t, oldID); st.Distribution != v1alpha1.CADistributionDeleting {
		t.Errorf("old CA right after delete = %s, want DELETING", st.Distribution)
	}
	f.pass(t)
	if len(f.c.Status.CertificateAuthorities) != 1 || f.c.Status.CertificateAuthorities[0].ID != newID {
		t.Fatalf("status after the delete finished = %+v, want the successor alone", f.c.Status.CertificateAuthorities)
	}
	if n := f.bundleLen(t); n != 1 {
		t.Errorf("bundle holds %d CAs after delete, want 1", n)
	}
	ids, err := storedIDs(f.p.Files())
	if err != nil || len(ids) != 1 || ids[0] != newID {
		t.Errorf("stored CAs after delete = %v (%v), want the successor alone", ids, err)
	}
}

// A spec that activates a CA not yet distributed waits rather than swap:
// clients that do not trust it yet would fail.
func TestActivationWaitsForDistribution(t *testing.T) {
	f := newFixture(t)
	f.pass(t)
	first := f.signer(t)
	now := metav1.Now()
	f.c.Spec.CertificateAuthorities = []v1alpha1.CertificateAuthority{
		{ID: pki.CAID(first), CreatedAt: now},
		{ID: "2b4e28ba-2fa1-11d2-883f-0016d3cca427", CreatedAt: now, Signer: true},
	}
	f.pass(t)
	if !f.signer(t).Equal(first) {
		t.Fatal("the signer swapped in the pass that first distributed its successor")
	}
	if st := f.status(t, "2b4e28ba-2fa1-11d2-883f-0016d3cca427"); st.Signing != v1alpha1.CASigningActivating {
		t.Errorf("successor = %s, want ACTIVATING", st.Signing)
	}
}

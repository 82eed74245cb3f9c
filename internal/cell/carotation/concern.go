package carotation

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/certroll"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/pki"
)

// Concern is the tenant.Concern of CA rotation. It runs before
// certroll.Roller, so a bundle it changes is rolled out in the same pass.
type Concern struct {
	Runner tenant.Runner
	Logger *slog.Logger
	// Prober probes the API servers; nil probes them over TLS.
	Prober Prober
}

// pass is one Reconcile's view of a cluster's CAs.
type pass struct {
	c      *v1alpha1.Cluster
	p      *controlplane.Plan
	f      *pki.ClusterFiles
	signer *pki.CA
	want   []v1alpha1.CertificateAuthority
	cas    map[string]*pki.CA
	prev   map[string]v1alpha1.CertificateAuthorityStatus
	// pending names the members still to restart onto the files on disk.
	pending []string
}

// Reconcile takes the rotation's next step and reports every CA's status.
// A signer swap ends the pass (tenant.ErrReplan), so the next one reissues
// the leaves under the new signer at once.
func (cn *Concern) Reconcile(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	ps, err := cn.load(c, p)
	if err != nil {
		return err
	}
	changed, err := writeBundle(ps.f, ps.bundle())
	if err != nil {
		return err
	}
	if changed {
		tenant.Logger(cn.Logger, c).Info("CA trust bundle changed", "cas", ps.ids())
	}
	if ps.pending, err = certroll.Pending(cn.Runner, p); err != nil {
		return err
	}
	if changed {
		// certroll restarts the members after this concern; judge next pass.
		ps.pending = append(ps.pending, "controllers (trust bundle just changed)")
	}
	statuses, err := cn.statuses(ctx, ps)
	if err != nil {
		return err
	}
	retired, err := cn.retire(ctx, ps)
	if err != nil {
		return err
	}
	c.Status.CertificateAuthorities = append(statuses, retired...)
	return cn.swapSigner(c, ps, statuses)
}

// Health reports nothing: a rotation keeps the cluster serving.
func (cn *Concern) Health(context.Context, *v1alpha1.Cluster, *controlplane.Plan, bool) string {
	return ""
}

func (cn *Concern) load(c *v1alpha1.Cluster, p *controlplane.Plan) (*pass, error) {
	f := p.Files()
	signer, err := pki.LoadCA(f.CA, f.CAKey)
	if err != nil {
		return nil, fmt.Errorf("loading cluster CA: %w", err)
	}
	ps := &pass{c: c, p: p, f: f, signer: signer, want: wanted(c, signer), cas: map[string]*pki.CA{},
		prev: map[string]v1alpha1.CertificateAuthorityStatus{}}
	for _, w := range ps.want {
		if ps.cas[w.ID], err = ensureStored(f, w.ID, c.Spec.Name, signer); err != nil {
			return nil, err
		}
	}
	for _, st := range c.Status.CertificateAuthorities {
		ps.prev[st.ID] = st
	}
	return ps, nil
}

// bundle lists the wanted CAs in order, and the signer first if the spec
// lost it: the signer is trusted whatever the spec says, or its own leaves
// would stop verifying.
func (ps *pass) bundle() []*x509.Certificate {
	var out []*x509.Certificate
	seen := false
	for _, w := range ps.want {
		ca := ps.cas[w.ID]
		seen = seen || ca.Cert.Equal(ps.signer.Cert)
		out = append(out, ca.Cert)
	}
	if !seen {
		out = append([]*x509.Certificate{ps.signer.Cert}, out...)
	}
	return out
}

func (ps *pass) ids() []string {
	out := make([]string, len(ps.want))
	for i, w := range ps.want {
		out[i] = w.ID
	}
	return out
}

// signerID is the ID the signer is known by: the wanted CA it is, or, for
// a cluster that never rotated, the ID derived from it.
func (ps *pass) signerID() string {
	for _, w := range ps.want {
		if ps.cas[w.ID].Cert.Equal(ps.signer.Cert) {
			return w.ID
		}
	}
	return pki.CAID(ps.signer.Cert)
}

// target is the CA the spec wants to sign.
func (ps *pass) target() (v1alpha1.CertificateAuthority, bool) {
	i := slices.IndexFunc(ps.want, func(w v1alpha1.CertificateAuthority) bool { return w.Signer })
	if i < 0 {
		return v1alpha1.CertificateAuthority{}, false
	}
	return ps.want[i], true
}

// statuses reports the wanted CAs.
func (cn *Concern) statuses(ctx context.Context, ps *pass) ([]v1alpha1.CertificateAuthorityStatus, error) {
	var out []v1alpha1.CertificateAuthorityStatus
	if len(ps.c.Spec.CertificateAuthorities) == 0 {
		// Never rotated: every component started with the one CA, so there is
		// nothing to probe, which keeps a cluster's creation free of probes.
		st := describe(ps.want[0].ID, ps.signer)
		st.Distribution, st.Signing = v1alpha1.CADistributionComplete, v1alpha1.CASigningInUse
		return append(out, st), nil
	}
	for _, w := range ps.want {
		st := describe(w.ID, ps.cas[w.ID])
		var err error
		if st.Distribution, st.Message, err = cn.distribution(ctx, ps, w.ID); err != nil {
			return nil, err
		}
		if st.Signing, err = cn.signing(ctx, ps, w); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

func describe(id string, ca *pki.CA) v1alpha1.CertificateAuthorityStatus {
	nb, na := metav1.NewTime(ca.Cert.NotBefore), metav1.NewTime(ca.Cert.NotAfter)
	return v1alpha1.CertificateAuthorityStatus{ID: id, Data: base64.StdEncoding.EncodeToString(ca.CertPEM), NotBefore: &nb, NotAfter: &na}
}

// distribution is COMPLETE once every controller runs with the bundle and
// every API server accepts the CA's certificates; it stays COMPLETE after.
func (cn *Concern) distribution(ctx context.Context, ps *pass, id string) (string, string, error) {
	if ps.prev[id].Distribution == v1alpha1.CADistributionComplete {
		return v1alpha1.CADistributionComplete, "", nil
	}
	if len(ps.pending) > 0 {
		return v1alpha1.CADistributionInProgress, "restarting " + strings.Join(ps.pending, ", "), nil
	}
	got, err := cn.prober().Accepts(ctx, ps.p, ps.cas[id])
	if err != nil {
		return v1alpha1.CADistributionInProgress, err.Error(), nil
	}
	if missing := without(got, true); len(missing) > 0 {
		return v1alpha1.CADistributionInProgress, "not yet trusted by " + strings.Join(missing, ", "), nil
	}
	return v1alpha1.CADistributionComplete, "", nil
}

// signing is IN_USE once the CA is the signer, every controller runs with
// leaves it signed and every API server serves one; it stays IN_USE after.
func (cn *Concern) signing(ctx context.Context, ps *pass, w v1alpha1.CertificateAuthority) (string, error) {
	switch {
	case !w.Signer:
		return v1alpha1.CASigningNotUsed, nil
	case w.ID != ps.signerID() || len(ps.pending) > 0:
		return v1alpha1.CASigningActivating, nil
	case ps.prev[w.ID].Signing == v1alpha1.CASigningInUse:
		return v1alpha1.CASigningInUse, nil
	}
	got, err := cn.prober().Serves(ctx, ps.p, ps.cas[w.ID])
	if err != nil || len(without(got, true)) > 0 {
		return v1alpha1.CASigningActivating, nil //nolint:nilerr // a probe failure means not yet
	}
	return v1alpha1.CASigningInUse, nil
}

// swapSigner makes the spec's signer the cluster's once it is distributed.
func (cn *Concern) swapSigner(c *v1alpha1.Cluster, ps *pass, statuses []v1alpha1.CertificateAuthorityStatus) error {
	t, ok := ps.target()
	if !ok || t.ID == ps.signerID() {
		return nil
	}
	i := slices.IndexFunc(statuses, func(st v1alpha1.CertificateAuthorityStatus) bool { return st.ID == t.ID })
	if i < 0 || statuses[i].Distribution != v1alpha1.CADistributionComplete {
		return nil // the region refuses this; a spec written by hand waits
	}
	if err := pki.WriteCA(ps.cas[t.ID], ps.f.CA, ps.f.CAKey); err != nil {
		return fmt.Errorf("activating CA %s: %w", t.ID, err)
	}
	tenant.Logger(cn.Logger, c).Info("CA activated; reissuing certificates", "ca", t.ID, "previous", ps.signerID())
	return tenant.ErrReplan
}

// retire reports the stored CAs the spec dropped as DELETING, and forgets
// each once every API server refuses it and every controller restarted.
func (cn *Concern) retire(ctx context.Context, ps *pass) ([]v1alpha1.CertificateAuthorityStatus, error) {
	ids, err := storedIDs(ps.f)
	if err != nil {
		return nil, err
	}
	sort.Strings(ids)
	var out []v1alpha1.CertificateAuthorityStatus
	for _, id := range ids {
		if _, ok := ps.cas[id]; ok || id == ps.signerID() {
			continue
		}
		done, st, err := cn.retireOne(ctx, ps, id)
		if err != nil {
			return nil, err
		}
		if !done {
			out = append(out, st)
		}
	}
	return out, nil
}

func (cn *Concern) retireOne(ctx context.Context, ps *pass, id string) (bool, v1alpha1.CertificateAuthorityStatus, error) {
	cf, kf := pki.StoredCAPaths(ps.f.CAStore, id)
	ca, err := pki.LoadCA(cf, kf)
	if err != nil {
		return false, v1alpha1.CertificateAuthorityStatus{}, fmt.Errorf("loading retired CA %s: %w", id, err)
	}
	if ca.Cert.Equal(ps.signer.Cert) {
		return true, v1alpha1.CertificateAuthorityStatus{}, nil // never retire the signer, whatever the spec says
	}
	st := describe(id, ca)
	st.Distribution, st.Signing = v1alpha1.CADistributionDeleting, v1alpha1.CASigningNotUsed
	if len(ps.pending) > 0 {
		st.Message = "restarting " + strings.Join(ps.pending, ", ")
		return false, st, nil
	}
	got, err := cn.prober().Accepts(ctx, ps.p, ca)
	if err != nil {
		st.Message = err.Error()
		return false, st, nil
	}
	if still := without(got, false); len(still) > 0 {
		st.Message = "still trusted by " + strings.Join(still, ", ")
		return false, st, nil
	}
	if err := removeStored(ps.f, id); err != nil {
		return false, st, err
	}
	tenant.Logger(cn.Logger, ps.c).Info("CA retired", "ca", id)
	return true, st, nil
}

// without lists the members whose answer is not want, sorted.
func without(got map[string]bool, want bool) []string {
	var out []string
	for name, v := range got {
		if v != want {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

func (cn *Concern) prober() Prober {
	if cn.Prober != nil {
		return cn.Prober
	}
	return TLSProber{}
}

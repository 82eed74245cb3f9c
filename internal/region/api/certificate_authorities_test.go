package api

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
)

// caUpdate decodes the answer of a create, activate or delete.
func (r response) caUpdate(t *testing.T) eks.CertificateAuthorityUpdateOutput {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var out eks.CertificateAuthorityUpdateOutput
	if err := json.Unmarshal(r.body, &out); err != nil || out.CertificateAuthority == nil || out.Update == nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return out
}

func (h *harness) listCAs() []eks.CertificateAuthoritySummary {
	h.t.Helper()
	r := h.do("GET", "/clusters/rot/certificate-authorities", nil)
	var out eks.ListCertificateAuthoritiesOutput
	if r.status != http.StatusOK || json.Unmarshal(r.body, &out) != nil {
		h.t.Fatalf("list: %d %s", r.status, r.body)
	}
	return out.CertificateAuthorities
}

// reportCAs pushes the cell's report: the spec's CAs, all distributed, the
// signer in use.
func (h *harness) reportCAs() {
	h.t.Helper()
	c := h.stored("rot")
	var st []v1alpha1.CertificateAuthorityStatus
	for _, sp := range c.Spec.CertificateAuthorities {
		s := v1alpha1.CertificateAuthorityStatus{ID: sp.ID, Distribution: v1alpha1.CADistributionComplete, Signing: v1alpha1.CASigningNotUsed}
		if sp.Signer {
			s.Signing = v1alpha1.CASigningInUse
		}
		st = append(st, s)
	}
	h.pushStatus("rot", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive, CertificateAuthorities: st})
}

func TestCertificateAuthorityRotation(t *testing.T) {
	h := newHarness(t)
	h.seed("rot")
	h.do("POST", "/clusters/rot/certificate-authorities", nil).wantError(t, 409, eks.ResourceInUseException, "can be updated only when ACTIVE")
	h.pushStatus("rot", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive, CertificateAuthorities: []v1alpha1.CertificateAuthorityStatus{
		{ID: "first", Distribution: v1alpha1.CADistributionComplete, Signing: v1alpha1.CASigningInUse}}})

	if l := h.listCAs(); len(l) != 1 || l[0].ID != "first" || l[0].CreatedBy != v1alpha1.CABySystem || l[0].SigningStatus != v1alpha1.CASigningInUse {
		t.Fatalf("list before rotation = %+v", l)
	}
	before := h.stored("rot").ResourceVersion
	h.do("GET", "/clusters/rot/certificate-authorities/nope", nil).wantError(t, 404, eks.ResourceNotFoundException, "No certificate authority found for ID nope")
	h.do("DELETE", "/clusters/rot/certificate-authorities/first", nil).wantError(t, 400, eks.InvalidRequestException, "cannot be deleted")
	h.do("POST", "/clusters/rot/certificate-authorities/first/activate", nil).wantError(t, 400, eks.InvalidRequestException, "already signs")
	h.do("PUT", "/clusters/rot/certificate-authorities", nil).wantError(t, 405, eks.ClientException, "not allowed")
	h.do("GET", "/clusters/rot/certificate-authorities?maxResults=0", nil).wantError(t, 400, eks.InvalidParameterException, "maxResults")
	if after := h.stored("rot").ResourceVersion; after != before {
		t.Fatalf("refused requests changed the cluster (resourceVersion %s → %s)", before, after)
	}

	created := h.do("POST", "/clusters/rot/certificate-authorities", map[string]string{"clientRequestToken": "tok-1"}).caUpdate(t)
	id := created.CertificateAuthority.ID
	if created.Update.Type != eks.UpdateTypeCertificateAuthority || created.Update.Status != eks.UpdateStatusInProgress ||
		created.CertificateAuthority.DistributionStatus != v1alpha1.CADistributionInProgress {
		t.Fatalf("create = %+v / %+v", created.CertificateAuthority, created.Update)
	}
	retry := h.do("POST", "/clusters/rot/certificate-authorities", map[string]string{"clientRequestToken": "tok-1"}).caUpdate(t)
	if retry.CertificateAuthority.ID != id || retry.Update.ID != created.Update.ID {
		t.Fatalf("retry with the token = %s / %s, want %s / %s", retry.CertificateAuthority.ID, retry.Update.ID, id, created.Update.ID)
	}
	h.do("POST", "/clusters/rot/certificate-authorities", nil).wantError(t, 409, eks.ResourceInUseException, "in distribution IN_PROGRESS")
	h.do("POST", "/clusters/rot/certificate-authorities/"+id+"/activate", nil).wantError(t, 400, eks.InvalidRequestException, "before its distribution is COMPLETE")

	h.reportCAs()
	if u := h.do("GET", "/clusters/rot/updates/"+created.Update.ID, nil).update(t); u.Status != eks.UpdateStatusSuccessful {
		t.Fatalf("create update once distributed = %s", u.Status)
	}
	h.do("POST", "/clusters/rot/certificate-authorities", nil).wantError(t, 400, eks.ResourceLimitExceededException, "already trusts 2")

	act := h.do("POST", "/clusters/rot/certificate-authorities/"+id+"/activate", nil).caUpdate(t)
	if act.CertificateAuthority.SigningStatus != v1alpha1.CASigningActivating || act.CertificateAuthority.ActivatedBy != v1alpha1.CAByCustomer {
		t.Fatalf("activate = %+v", act.CertificateAuthority)
	}
	h.do("DELETE", "/clusters/rot/certificate-authorities/first", nil).wantError(t, 409, eks.ResourceInUseException, "being activated")
	h.reportCAs()
	if d := h.do("GET", "/clusters/rot", nil).cluster(t); d.CertificateAuthority.Active == nil || d.CertificateAuthority.Active.ID != id {
		t.Fatalf("DescribeCluster's active CA = %+v, want %s", d.CertificateAuthority.Active, id)
	}

	del := h.do("DELETE", "/clusters/rot/certificate-authorities/first?clientRequestToken=tok-3", nil).caUpdate(t)
	if del.CertificateAuthority.DistributionStatus != v1alpha1.CADistributionDeleting {
		t.Fatalf("delete = %+v", del.CertificateAuthority)
	}
	h.reportCAs()
	if u := h.do("GET", "/clusters/rot/updates/"+del.Update.ID, nil).update(t); u.Status != eks.UpdateStatusSuccessful {
		t.Fatalf("delete update once the cell let go = %s", u.Status)
	}
	if u := h.do("GET", "/clusters/rot/updates/"+act.Update.ID, nil).update(t); u.Status != eks.UpdateStatusSuccessful {
		t.Fatalf("activate update once in use = %s", u.Status)
	}
	if l := h.listCAs(); len(l) != 1 || l[0].ID != id {
		t.Fatalf("list after rotation = %+v", l)
	}
}

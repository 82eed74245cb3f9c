package clusterca

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// CA is one CA as the tenant sees it.
type CA struct {
	Spec   v1alpha1.CertificateAuthority
	Status v1alpha1.CertificateAuthorityStatus
}

// List is the cluster's CAs in the spec's order, then those deleted from it
// that the cell still reports (DELETING). Before any rotation the cell's
// report of the first CA stands in for the spec.
func List(c *v1alpha1.Cluster) []CA {
	reported := map[string]v1alpha1.CertificateAuthorityStatus{}
	for _, st := range c.Status.CertificateAuthorities {
		reported[st.ID] = st
	}
	var out []CA
	for _, sp := range specOf(c) {
		st, ok := reported[sp.ID]
		if !ok {
			st = v1alpha1.CertificateAuthorityStatus{ID: sp.ID, Distribution: v1alpha1.CADistributionInProgress, Signing: v1alpha1.CASigningNotUsed}
		}
		if sp.Signer && st.Signing == v1alpha1.CASigningNotUsed {
			st.Signing = v1alpha1.CASigningActivating // the cell has not seen the activation yet
		}
		out = append(out, CA{Spec: sp, Status: st})
		delete(reported, sp.ID)
	}
	for _, st := range c.Status.CertificateAuthorities {
		if _, ok := reported[st.ID]; ok {
			st.Distribution = v1alpha1.CADistributionDeleting
			out = append(out, CA{Spec: v1alpha1.CertificateAuthority{ID: st.ID}, Status: st})
		}
	}
	return out
}

// Find returns the CA with id.
func Find(c *v1alpha1.Cluster, id string) (CA, bool) {
	l := List(c)
	i := slices.IndexFunc(l, func(ca CA) bool { return ca.Spec.ID == id })
	if i < 0 {
		return CA{}, false
	}
	return l[i], true
}

// specOf is the spec's list, or, before the first rotation, the CA the cell
// made with the cluster: created and activated by the service.
func specOf(c *v1alpha1.Cluster) []v1alpha1.CertificateAuthority {
	if len(c.Spec.CertificateAuthorities) > 0 {
		return c.Spec.CertificateAuthorities
	}
	var out []v1alpha1.CertificateAuthority
	created := c.CreationTimestamp
	for _, st := range c.Status.CertificateAuthorities {
		if st.Signing == v1alpha1.CASigningInUse {
			out = append(out, v1alpha1.CertificateAuthority{ID: st.ID, CreatedBy: v1alpha1.CABySystem, CreatedAt: created,
				Signer: true, ActivatedBy: v1alpha1.CABySystem, ActivatedAt: &metav1.Time{Time: created.Time}})
		}
	}
	return out
}

package clusterca

import (
	"fmt"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// Refusal is a request the cluster's state does not allow. Its message is
// written for the API's caller; Kind is an errdefs sentinel.
type Refusal struct {
	Kind error
	Msg  string
}

func (r *Refusal) Error() string { return r.Msg }
func (r *Refusal) Unwrap() error { return r.Kind }

// ErrInUse is the kind of a refusal because another rotation step is
// still under way: EKS answers ResourceInUseException.
var ErrInUse = fmt.Errorf("certificate authority change in progress")

func refuse(kind error, format string, args ...any) error {
	return &Refusal{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// MaxCAs is how many CAs a cluster trusts at once: the signer and one
// successor, or the signer and the CA it replaced.
const MaxCAs = 2

// Create appends a successor CA with id to the spec. Refused while another
// step is under way, or while the cluster already trusts two CAs.
func Create(c *v1alpha1.Cluster, id string, now time.Time) (CA, error) {
	l := List(c)
	if len(l) == 0 {
		return CA{}, refuse(errdefs.ErrUnavailable, "The certificate authority of cluster %s is not reported yet; retry shortly.", c.Spec.Name)
	}
	if err := settledAll(c, l); err != nil {
		return CA{}, err
	}
	if len(l) >= MaxCAs {
		return CA{}, refuse(errdefs.ErrLimitExceeded, "Cluster %s already trusts %d certificate authorities (%s); activate or delete one before creating another.", c.Spec.Name, len(l), ids(l))
	}
	sp := v1alpha1.CertificateAuthority{ID: id, CreatedBy: v1alpha1.CAByCustomer, CreatedAt: metav1.NewTime(now)}
	c.Spec.CertificateAuthorities = append(specOf(c), sp)
	ca, _ := Find(c, id)
	return ca, nil
}

// Activate makes the CA with id the signer. Refused unless the CA is
// trusted everywhere (distribution COMPLETE) and nothing else is under way.
func Activate(c *v1alpha1.Cluster, id string, now time.Time) (CA, error) {
	ca, err := existing(c, id)
	if err != nil {
		return CA{}, err
	}
	switch {
	case ca.Spec.Signer:
		return CA{}, refuse(errdefs.ErrInvalidRequest, "Certificate authority %s already signs for cluster %s.", id, c.Spec.Name)
	case ca.Status.Distribution == v1alpha1.CADistributionDeleting:
		return CA{}, refuse(errdefs.ErrInvalidRequest, "Certificate authority %s of cluster %s is being deleted.", id, c.Spec.Name)
	case ca.Status.Distribution != v1alpha1.CADistributionComplete:
		return CA{}, refuse(errdefs.ErrInvalidRequest, "Certificate authority %s of cluster %s cannot be activated before its distribution is COMPLETE; it is %s.", id, c.Spec.Name, ca.Status.Distribution)
	}
	if err := settledAll(c, List(c)); err != nil {
		return CA{}, err
	}
	spec := specOf(c)
	at := metav1.NewTime(now)
	for i := range spec {
		spec[i].Signer = spec[i].ID == id
		if spec[i].Signer {
			spec[i].ActivatedBy, spec[i].ActivatedAt = v1alpha1.CAByCustomer, &at
		}
	}
	c.Spec.CertificateAuthorities = spec
	ca, _ = Find(c, id)
	return ca, nil
}

// Delete drops the CA with id from the spec. Refused for the signer, and
// while another step is under way.
func Delete(c *v1alpha1.Cluster, id string) (CA, error) {
	ca, err := existing(c, id)
	if err != nil {
		return CA{}, err
	}
	switch {
	case ca.Spec.Signer:
		return CA{}, refuse(errdefs.ErrInvalidRequest, "Certificate authority %s signs for cluster %s and cannot be deleted; activate another one first.", id, c.Spec.Name)
	case ca.Status.Distribution == v1alpha1.CADistributionDeleting:
		return CA{}, refuse(ErrInUse, "Certificate authority %s of cluster %s is already being deleted.", id, c.Spec.Name)
	}
	if err := settledAll(c, List(c)); err != nil {
		return CA{}, err
	}
	c.Spec.CertificateAuthorities = slices.DeleteFunc(specOf(c), func(sp v1alpha1.CertificateAuthority) bool { return sp.ID == id })
	ca.Status.Distribution = v1alpha1.CADistributionDeleting
	return ca, nil
}

func existing(c *v1alpha1.Cluster, id string) (CA, error) {
	ca, ok := Find(c, id)
	if !ok {
		return CA{}, refuse(errdefs.ErrNotFound, "No certificate authority found for ID %s on cluster %s.", id, c.Spec.Name)
	}
	return ca, nil
}

// settledAll refuses a step while any CA is still being distributed,
// activated or deleted: one step at a time keeps every client able to
// verify every certificate.
func settledAll(c *v1alpha1.Cluster, l []CA) error {
	for _, ca := range l {
		if busy(ca) {
			return refuse(ErrInUse, "Certificate authority %s of cluster %s is %s; retry once that has finished.", ca.Spec.ID, c.Spec.Name, stateOf(ca))
		}
	}
	return nil
}

func busy(ca CA) bool {
	return ca.Status.Distribution != v1alpha1.CADistributionComplete || ca.Status.Signing == v1alpha1.CASigningActivating
}

func stateOf(ca CA) string {
	if ca.Status.Signing == v1alpha1.CASigningActivating {
		return "being activated"
	}
	return "in distribution " + ca.Status.Distribution
}

func ids(l []CA) string {
	out := ""
	for i, ca := range l {
		if i > 0 {
			out += ", "
		}
		out += ca.Spec.ID
	}
	return out
}

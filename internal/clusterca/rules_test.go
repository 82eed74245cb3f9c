package clusterca

import (
	"errors"
	"testing"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// fresh is a cluster that never rotated: the cell reports its one CA.
func fresh() *v1alpha1.Cluster {
	c := &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{Name: "c1"}}
	c.Status.CertificateAuthorities = []v1alpha1.CertificateAuthorityStatus{{ID: "old", Distribution: v1alpha1.CADistributionComplete, Signing: v1alpha1.CASigningInUse}}
	return c
}

// report makes the cell's report of c say what the spec asks, done.
func report(c *v1alpha1.Cluster) {
	c.Status.CertificateAuthorities = nil
	for _, sp := range c.Spec.CertificateAuthorities {
		st := v1alpha1.CertificateAuthorityStatus{ID: sp.ID, Distribution: v1alpha1.CADistributionComplete, Signing: v1alpha1.CASigningNotUsed}
		if sp.Signer {
			st.Signing = v1alpha1.CASigningInUse
		}
		c.Status.CertificateAuthorities = append(c.Status.CertificateAuthorities, st)
	}
}

func TestRotation(t *testing.T) {
	c := fresh()
	now := time.Now()
	ca, err := Create(c, "new", now)
	if err != nil {
		t.Fatal(err)
	}
	if ca.Status.Distribution != v1alpha1.CADistributionInProgress || ca.Spec.CreatedBy != v1alpha1.CAByCustomer {
		t.Fatalf("created CA = %+v, want IN_PROGRESS by CUSTOMER", ca)
	}
	if got := len(c.Spec.CertificateAuthorities); got != 2 || !c.Spec.CertificateAuthorities[0].Signer || c.Spec.CertificateAuthorities[0].CreatedBy != v1alpha1.CABySystem {
		t.Fatalf("spec after create = %+v, want the first CA (signer, EKS) and the new one", c.Spec.CertificateAuthorities)
	}
	createParams := Params(OpCreate, "new", c)
	if got := Outcome(c, createParams); got != v1alpha1.UpdateInProgress {
		t.Errorf("create outcome before distribution = %s", got)
	}
	mustRefuse(t, "activate before distributed", errdefs.ErrInvalidRequest, func() error { _, err := Activate(c.DeepCopy(), "new", now); return err })
	mustRefuse(t, "second create", ErrInUse, func() error { _, err := Create(c.DeepCopy(), "third", now); return err })
	report(c)
	if got := Outcome(c, createParams); got != v1alpha1.UpdateSuccessful {
		t.Errorf("create outcome once distributed = %s", got)
	}
	mustRefuse(t, "third CA", errdefs.ErrLimitExceeded, func() error { _, err := Create(c.DeepCopy(), "third", now); return err })
	mustRefuse(t, "delete the signer", errdefs.ErrInvalidRequest, func() error { _, err := Delete(c.DeepCopy(), "old"); return err })
	mustRefuse(t, "unknown CA", errdefs.ErrNotFound, func() error { _, err := Activate(c.DeepCopy(), "nope", now); return err })

	if _, err := Activate(c, "new", now); err != nil {
		t.Fatal(err)
	}
	actParams := Params(OpActivate, "new", c)
	if ca, _ := Find(c, "new"); ca.Status.Signing != v1alpha1.CASigningActivating {
		t.Errorf("signing right after activate = %s, want ACTIVATING", ca.Status.Signing)
	}
	mustRefuse(t, "delete while activating", ErrInUse, func() error { _, err := Delete(c.DeepCopy(), "old"); return err })
	report(c)
	if got := Outcome(c, actParams); got != v1alpha1.UpdateSuccessful {
		t.Errorf("activate outcome once in use = %s", got)
	}

	if _, err := Delete(c, "old"); err != nil {
		t.Fatal(err)
	}
	delParams := Params(OpDelete, "old", c)
	c.Status.CertificateAuthorities = append(c.Status.CertificateAuthorities, v1alpha1.CertificateAuthorityStatus{ID: "old", Distribution: v1alpha1.CADistributionComplete, Signing: v1alpha1.CASigningNotUsed})
	if ca, _ := Find(c, "old"); ca.Status.Distribution != v1alpha1.CADistributionDeleting {
		t.Errorf("deleted CA still reported shows %s, want DELETING", ca.Status.Distribution)
	}
	if got := Outcome(c, delParams); got != v1alpha1.UpdateInProgress {
		t.Errorf("delete outcome while the cell still trusts it = %s", got)
	}
	report(c)
	if got := Outcome(c, delParams); got != v1alpha1.UpdateSuccessful {
		t.Errorf("delete outcome once gone = %s", got)
	}
	if got := Outcome(c, createParams); got != v1alpha1.UpdateSuccessful {
		t.Errorf("create outcome after the old CA went = %s", got)
	}
}

func TestCreateBeforeReport(t *testing.T) {
	c := &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{Name: "c1"}}
	mustRefuse(t, "create before the cell reported", errdefs.ErrUnavailable, func() error { _, err := Create(c, "new", time.Now()); return err })
	if c.Spec.CertificateAuthorities != nil {
		t.Errorf("refused create changed the spec: %+v", c.Spec.CertificateAuthorities)
	}
}

func mustRefuse(t *testing.T, what string, kind error, f func() error) {
	t.Helper()
	err := f()
	var ref *Refusal
	if !errors.Is(err, kind) || !errors.As(err, &ref) || ref.Msg == "" {
		t.Errorf("%s: got %v, want a refusal of kind %v", what, err, kind)
	}
}

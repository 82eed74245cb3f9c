package clusterca

import (
	"slices"
	"strings"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Update parameter types of a CertificateAuthorityUpdate, as EKS names them.
const (
	ParamCertificateAuthorityID = "CertificateAuthorityId"
	ParamActive                 = "ActiveCertificateAuthority"
	ParamTrusted                = "TrustedCertificateAuthorities"
	ParamSigningStatus          = "SigningStatus"
)

// Params are the parameters of the CertificateAuthorityUpdate op records
// for the CA with id, on c as changed by op.
func Params(op, id string, c *v1alpha1.Cluster) []v1alpha1.UpdateParam {
	out := []v1alpha1.UpdateParam{{Type: ParamCertificateAuthorityID, Value: id}}
	switch op {
	case OpActivate:
		out = append(out, v1alpha1.UpdateParam{Type: ParamActive, Value: id})
	default:
		out = append(out, v1alpha1.UpdateParam{Type: ParamTrusted, Value: trusted(c)})
	}
	return out
}

// Operations that record a CertificateAuthorityUpdate.
const (
	OpCreate   = "create"
	OpActivate = "activate"
	OpDelete   = "delete"
)

func trusted(c *v1alpha1.Cluster) string {
	out := ""
	for i, sp := range specOf(c) {
		if i > 0 {
			out += ","
		}
		out += sp.ID
	}
	return out
}

// Outcome says how a CertificateAuthorityUpdate with params stands on c:
// InProgress, Successful or Failed. The parameters tell the step: an
// activation names the ActiveCertificateAuthority, a create lists its CA
// among the TrustedCertificateAuthorities, a delete does not.
func Outcome(c *v1alpha1.Cluster, params []v1alpha1.UpdateParam) string {
	id, op := "", OpDelete
	for _, p := range params {
		switch p.Type {
		case ParamCertificateAuthorityID:
			id = p.Value
		case ParamActive:
			op = OpActivate
		}
	}
	for _, p := range params {
		if p.Type == ParamTrusted && op != OpActivate && slices.Contains(strings.Split(p.Value, ","), id) {
			op = OpCreate
		}
	}
	ca, found := Find(c, id)
	switch op {
	case OpActivate:
		return activation(ca, found)
	case OpCreate:
		return creation(ca, found)
	}
	if found {
		return v1alpha1.UpdateInProgress // the cell still trusts it
	}
	return v1alpha1.UpdateSuccessful
}

func activation(ca CA, found bool) string {
	switch {
	case found && ca.Status.Signing == v1alpha1.CASigningInUse:
		return v1alpha1.UpdateSuccessful
	case !found || !ca.Spec.Signer:
		return v1alpha1.UpdateFailed // superseded before it finished
	}
	return v1alpha1.UpdateInProgress
}

// creation is done once the CA is distributed; a CA deleted before that
// never was.
func creation(ca CA, found bool) string {
	switch {
	case !found || ca.Status.Distribution == v1alpha1.CADistributionFailed:
		return v1alpha1.UpdateFailed
	case ca.Status.Distribution == v1alpha1.CADistributionComplete:
		return v1alpha1.UpdateSuccessful
	case ca.Status.Distribution == v1alpha1.CADistributionDeleting && ca.Status.NotBefore != nil:
		return v1alpha1.UpdateSuccessful // distributed before, now being deleted
	}
	return v1alpha1.UpdateInProgress
}

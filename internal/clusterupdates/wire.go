package clusterupdates

import (
	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/redact"
)

// Wire renders a stored update as EKS's Update. An update whose status
// write was lost reads as InProgress, which is what it was.
func Wire(u *v1alpha1.ClusterUpdate) *eks.Update {
	out := &eks.Update{
		ID:        u.Spec.ID,
		Status:    u.Status.Status,
		Type:      u.Spec.Type,
		Params:    []eks.UpdateParam{},
		CreatedAt: eks.NewTimestamp(u.CreationTimestamp.Time),
		Errors:    []eks.ErrorDetail{},
	}
	if out.Status == "" {
		out.Status = eks.UpdateStatusInProgress
	}
	for _, p := range u.Spec.Params {
		out.Params = append(out.Params, eks.UpdateParam{Type: p.Type, Value: p.Value})
	}
	if cn := u.Status.Cancellation; cn != nil {
		out.Cancellation = &eks.Cancellation{Status: cn.Status, Reason: redact.Text(cn.Reason)}
	}
	for _, e := range u.Status.Errors {
		out.Errors = append(out.Errors, eks.ErrorDetail{ErrorCode: e.ErrorCode, ErrorMessage: redact.Text(e.ErrorMessage), ResourceIDs: e.ResourceIDs})
	}
	return out
}

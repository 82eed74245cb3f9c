package v1alpha1

import (
	"encoding/json"
	"fmt"
	"time"
)

// PendingRestoreRequest returns the cluster's restore request when it still
// waits for an answer. A request is answered once status.restore carries its
// ID, and superseded by any in-place restore that started after it was made
// (one etcd care started on its own after losing quorum), so an old request
// left on the object never runs twice. A request that cannot be read is
// returned with an error and ok true: the cell answers it with Failed.
func PendingRestoreRequest(c *Cluster) (req RestoreRequest, ok bool, err error) {
	v, found := c.Annotations[AnnotationRestoreRequested]
	if !found {
		return req, false, nil
	}
	if err := json.Unmarshal([]byte(v), &req); err != nil || req.ID == "" || req.Revision < 0 {
		return req, true, fmt.Errorf("the restore request %q is not JSON with an ID and a revision of zero or more", v)
	}
	at, perr := time.Parse(time.RFC3339Nano, req.ID)
	st := c.Status.Restore
	switch {
	case st == nil:
		return req, true, nil
	case st.RequestID == req.ID:
		return req, false, nil
	case perr == nil && st.StartedAt != nil && at.Before(st.StartedAt.Time):
		return req, false, nil
	}
	return req, true, nil
}

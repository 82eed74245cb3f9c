package signin

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// findEntry is the access entry of principal on c, nil when there is none.
// Entries live in the cluster's namespace (its account's), named by the
// access-entry API; they are matched by cluster name and principal.
func findEntry(ctx context.Context, store client.Reader, c *v1alpha1.Cluster, principal string) (*v1alpha1.AccessEntry, error) {
	if principal == "" {
		return nil, nil
	}
	var list v1alpha1.AccessEntryList
	if err := store.List(ctx, &list, client.InNamespace(c.Namespace)); err != nil {
		return nil, fmt.Errorf("listing access entries: %w", err)
	}
	for i := range list.Items {
		e := &list.Items[i]
		if e.Spec.ClusterName == c.Spec.Name && e.Spec.PrincipalARN == principal && e.DeletionTimestamp.IsZero() {
			return e, nil
		}
	}
	return nil, nil
}

package accessentries

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/iam"
	"github.com/cellplane/cellplane/internal/sigv4"
)

// WellFormed is what a regional API composed without an IAM store (unit
// tests of other handlers) knows: the account's admin user exists, and so
// does every well-formed user or role ARN (the handler has already checked
// that it is of the caller's account). The region composes the API with the
// IAM store (internal/iam), which knows.
type WellFormed struct{}

// Exists reports whether arn is the admin user or a well-formed user or role.
func (WellFormed) Exists(_ context.Context, arn string) (bool, error) {
	p, err := eksinput.ParsePrincipal(arn)
	if err != nil {
		return false, nil
	}
	return arn == account.AdminUserARN(p.Account) || p.Name != "", nil
}

// Bootstrap gives the cluster's creator a cluster-admin entry, when the
// cluster asks for one and its mode reads entries. CreateCluster runs it for
// a create and for its retries, so a create that stored the cluster but
// failed here heals on retry; an entry that exists is left as it is.
func (o *Operations) Bootstrap(ctx context.Context, c *v1alpha1.Cluster) error {
	ac := c.Spec.AccessConfig
	if ac == nil || !ac.BootstrapClusterCreatorAdminPermissions || ac.AuthenticationMode == v1alpha1.AuthenticationModeConfigMap || c.DeletionTimestamp != nil {
		return nil
	}
	creator := creatorOf(ctx, c.Labels[v1alpha1.LabelAccount])
	p, err := eksinput.ParsePrincipal(creator)
	if err != nil {
		return fmt.Errorf("bootstrapping the creator of cluster %s: %w", c.Spec.Name, err)
	}
	now := metav1.Now()
	spec := v1alpha1.AccessEntrySpec{
		ClusterName: c.Spec.Name, PrincipalARN: creator, Type: v1alpha1.AccessEntryTypeStandard,
		Username: eksinput.DefaultUsername(p), CreatedAt: now, ModifiedAt: now,
		AccessPolicies: []v1alpha1.AssociatedAccessPolicy{{
			PolicyARN: ClusterAdminPolicy, Scope: v1alpha1.AccessScope{Type: v1alpha1.AccessScopeCluster},
			AssociatedAt: now, ModifiedAt: now,
		}},
	}
	err = o.Store.Create(ctx, NewObject(c, spec))
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("storing the creator's access entry of cluster %s: %w", c.Spec.Name, err)
	}
	return nil
}

// creatorOf is the principal a CreateCluster request acts as, who gets the
// bootstrap cluster-admin entry: the signer, or, for an assumed role, the
// role (an entry names a role, never one of its sessions). Unsigned requests
// (unit tests only) act as the account's admin user.
func creatorOf(ctx context.Context, accountID string) string {
	p, ok := sigv4.PrincipalFrom(ctx)
	if !ok {
		return account.AdminUserARN(accountID)
	}
	if role, ok := iam.RoleOfSession(p); ok {
		return role
	}
	return p
}

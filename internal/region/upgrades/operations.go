package upgrades

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
)

// Clusters is what the operations need of the regional API.
type Clusters interface {
	// Cluster fetches the cluster the request's path names, for the
	// request's account.
	Cluster(r *http.Request) (*v1alpha1.Cluster, error)
	// Account is the account the request acts for.
	Account(r *http.Request) string
	// RequireActive refuses to change a cluster that is not ACTIVE.
	RequireActive(c *v1alpha1.Cluster) error
	// Change applies change to c and stores it, reading c again and
	// retrying on a conflict.
	Change(ctx context.Context, account string, c *v1alpha1.Cluster, change func(*v1alpha1.Cluster) error) error
	// Updates lists c's update records.
	Updates(ctx context.Context, c *v1alpha1.Cluster) ([]v1alpha1.ClusterUpdate, error)
	// Record stores an update of c in progress.
	Record(ctx context.Context, c *v1alpha1.Cluster, spec v1alpha1.ClusterUpdateSpec) (*v1alpha1.ClusterUpdate, error)
	// SaveStatus stores an update's status.
	SaveStatus(ctx context.Context, u *v1alpha1.ClusterUpdate) error
	// Wire renders a stored update as EKS's Update.
	Wire(u *v1alpha1.ClusterUpdate) *eks.Update
	// NodegroupVersions lists the minors c's node groups run.
	NodegroupVersions(ctx context.Context, c *v1alpha1.Cluster) ([]string, error)
}

// Operations serves the version operations.
type Operations struct {
	Clusters Clusters
	// InUse is the API's sentinel for ResourceInUseException.
	InUse error
	Log   *slog.Logger
	// RefuseUpgrade, when set, vets an upgrade of c to the minor target
	// that is not forced (upgrade insights in ERROR refuse it).
	RefuseUpgrade func(c *v1alpha1.Cluster, target string) error
}

package nodegroups

import (
	"context"
	"log/slog"
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/client"

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
	// Updates lists c's update records, its node groups' included.
	Updates(ctx context.Context, c *v1alpha1.Cluster) ([]v1alpha1.ClusterUpdate, error)
	// Record stores an update of c in progress.
	Record(ctx context.Context, c *v1alpha1.Cluster, spec v1alpha1.ClusterUpdateSpec) (*eks.Update, error)
	// Wire renders a stored update as EKS's Update.
	Wire(u *v1alpha1.ClusterUpdate) *eks.Update
}

// Operations serves the node group operations.
type Operations struct {
	Clusters Clusters
	// Store holds the node groups, next to their clusters, and their
	// updates' statuses.
	Store client.Client
	// Region names the region in ARNs.
	Region string
	// InUse is the API's sentinel for ResourceInUseException.
	InUse error
	Log   *slog.Logger
}

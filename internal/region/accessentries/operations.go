package accessentries

import (
	"context"
	"log/slog"
	"net/http"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/accesspolicy"
)

// ClusterAdminPolicy is the policy the cluster creator's bootstrap entry gets.
var ClusterAdminPolicy = accesspolicy.ARNPrefix + "AmazonEKSClusterAdminPolicy"

// Clusters is what the operations need of the regional API.
type Clusters interface {
	// Cluster fetches the cluster the request's path names, for the
	// request's account.
	Cluster(r *http.Request) (*v1alpha1.Cluster, error)
	// Account is the account the request acts for.
	Account(r *http.Request) string
}

// Principals tells the operations whether an IAM user or role exists. They
// ask it before storing an entry, so an entry never names a principal nobody
// can sign in as.
type Principals interface {
	Exists(ctx context.Context, arn string) (bool, error)
}

// Operations serves the access-entry operations.
type Operations struct {
	Clusters Clusters
	// Store holds the entries, next to their clusters.
	Store client.Client
	// Principals says which principals exist; nil is WellFormed.
	Principals Principals
	// Region names the region in ARNs.
	Region string
	// InUse is the API's sentinel for ResourceInUseException.
	InUse error
	Log   *slog.Logger
}

func (o *Operations) principals() Principals {
	if o.Principals == nil {
		return WellFormed{}
	}
	return o.Principals
}

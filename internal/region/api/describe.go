package api

import (
	"net/http"

	"github.com/cellplane/cellplane/internal/eks"
)

// describeCluster serves DescribeCluster: GET /clusters/{name}.
func (s *server) describeCluster(r *http.Request) (any, error) {
	c, err := s.clusterOfRequest(r)
	if err != nil {
		return nil, err
	}
	return eks.ClusterOutput{Cluster: s.toWire(accountFor(r), c)}, nil
}

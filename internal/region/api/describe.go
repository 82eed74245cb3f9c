package api

import (
	"net/http"

	"github.com/cellplane/cellplane/internal/eks"
)

// describeCluster serves DescribeCluster: GET /clusters/{name}.
func (s *server) describeCluster(r *http.Request) (any, error) {
	name := r.PathValue("name")
	noteCluster(r, name)
	account := accountFor(r)
	c, err := s.getCluster(r.Context(), account, name)
	if err != nil {
		return nil, err
	}
	return eks.ClusterOutput{Cluster: s.toWire(account, c)}, nil
}

package api

import (
	"net/http"

	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/paging"
)

// describeClusterVersions serves DescribeClusterVersions: GET /cluster-versions,
// newest first, each minor with its release day, its ends of standard and
// extended support and where today falls in them.
func (s *server) describeClusterVersions(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := paging.ParseLimit(q.Get("maxResults"), eks.MinVersionResults, eks.MaxVersionResults, eks.DefaultVersionResults)
	if err != nil {
		return nil, err
	}
	all, err := clusterversions.Matching(q, PlatformVersion)
	if err != nil {
		return nil, err
	}
	start, err := clusterversions.After(all, q.Get("nextToken"))
	if err != nil {
		return nil, err
	}
	end := min(start+limit, len(all))
	out := eks.DescribeClusterVersionsOutput{ClusterVersions: all[start:end]}
	if end < len(all) {
		out.NextToken = paging.EncodeToken(all[end-1].ClusterVersion)
	}
	return out, nil
}

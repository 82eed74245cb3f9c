package api

import (
	"fmt"
	"net/http"
	"slices"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/paging"
)

// listClusters serves ListClusters: GET /clusters?maxResults=N&nextToken=T. Pages
// are cut from the names in byte order, so a token stays meaningful while
// clusters come and go between calls.
func (s *server) listClusters(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := paging.ParseLimit(q.Get("maxResults"), eks.MinListResults, eks.MaxListResults, eks.DefaultListResults)
	if err != nil {
		return nil, err
	}
	after, err := decodeToken(q.Get("nextToken"))
	if err != nil {
		return nil, err
	}
	names, err := s.clusterNames(r, accountFor(r))
	if err != nil {
		return nil, err
	}
	page, next := paging.Page(names, after, limit)
	return eks.ListClustersOutput{Clusters: page, NextToken: next}, nil
}

// clusterNames returns the account's cluster names, sorted. The slice may be
// shared: callers must not change it.
func (s *server) clusterNames(r *http.Request, account string) ([]string, error) {
	if s.names != nil {
		return s.names.Sorted(v1alpha1.Namespace(account)), nil
	}
	var list v1alpha1.ClusterList
	err := s.store.List(r.Context(), &list,
		client.InNamespace(v1alpha1.Namespace(account)),
		client.MatchingLabels{v1alpha1.LabelAccount: account})
	if err != nil {
		return nil, fmt.Errorf("listing clusters of account %s: %w", account, err)
	}
	names := make([]string, 0, len(list.Items))
	for _, c := range list.Items {
		if c.Spec.Name != "" {
			names = append(names, c.Spec.Name)
		}
	}
	slices.Sort(names)
	return names, nil
}

// decodeToken returns the last name of the previous page; "" for the first page.
func decodeToken(token string) (string, error) {
	if token == "" {
		return "", nil
	}
	last, ok := paging.DecodeToken(token)
	if !ok || !v1alpha1.ValidName(last) {
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "The nextToken is not valid: pass the nextToken of a previous ListClusters response unchanged.")
	}
	return last, nil
}

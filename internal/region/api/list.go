package api

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// tokenPrefix versions the nextToken format, so it can change without old tokens
// being misread.
const tokenPrefix = "v1:"

// listClusters serves ListClusters: GET /clusters?maxResults=N&nextToken=T. Pages
// are cut from the names in byte order, so a token stays meaningful while
// clusters come and go between calls.
func (s *server) listClusters(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := parseMaxResults(q.Get("maxResults"))
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
	page, next := paginate(names, after, limit)
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

// paginate returns up to limit names after the name after, and the token of the
// next page when there is one.
func paginate(names []string, after string, limit int) ([]string, string) {
	start := 0
	if after != "" {
		i, found := slices.BinarySearch(names, after)
		if found {
			i++
		}
		start = i
	}
	end := min(start+limit, len(names))
	page := names[start:end]
	if end == len(names) || len(page) == 0 {
		return page, ""
	}
	return page, encodeToken(page[len(page)-1])
}

func parseMaxResults(v string) (int, error) {
	if v == "" {
		return eks.DefaultListResults, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < eks.MinListResults || n > eks.MaxListResults {
		return 0, errdefs.Publicf(errdefs.ErrInvalidParameter, "maxResults must be an integer from %d to %d; got %q.", eks.MinListResults, eks.MaxListResults, v)
	}
	return n, nil
}

func encodeToken(last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(tokenPrefix + last))
}

// decodeToken returns the last name of the previous page; "" for the first page.
func decodeToken(token string) (string, error) {
	if token == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(token)
	last, ok := strings.CutPrefix(string(raw), tokenPrefix)
	if err != nil || !ok || !v1alpha1.ValidName(last) {
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "The nextToken is not valid: pass the nextToken of a previous ListClusters response unchanged.")
	}
	return last, nil
}

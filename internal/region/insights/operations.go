package insights

import (
	"net/http"
	"regexp"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/paging"
)

// Clusters is what the operations need of the regional API.
type Clusters interface {
	// Cluster fetches the cluster the request's path names, for the
	// request's account.
	Cluster(r *http.Request) (*v1alpha1.Cluster, error)
	// RequireActive refuses a cluster that is not ACTIVE.
	RequireActive(c *v1alpha1.Cluster) error
}

// Operations serves the insight operations.
type Operations struct {
	Clusters Clusters
	// Store is the region store, where a refresh request is recorded on
	// the cluster.
	Store client.Client
	// Now defaults to time.Now.
	Now func() time.Time
}

// Routes registers the operations on mux, through the API's handle (an
// operation to a handler) and methodNotAllowed (the answer to a wrong method).
func (o *Operations) Routes(mux *http.ServeMux, handle func(func(*http.Request) (any, error)) http.HandlerFunc, methodNotAllowed func(allow string) http.HandlerFunc) {
	const list, one, refresh = "/clusters/{name}/insights", "/clusters/{name}/insights/{id}", "/clusters/{name}/insights-refresh"
	mux.HandleFunc("POST "+list, handle(o.List))
	mux.HandleFunc(list, methodNotAllowed("POST"))
	mux.HandleFunc("GET "+one, handle(o.Describe))
	mux.HandleFunc(one, methodNotAllowed("GET"))
	mux.HandleFunc("POST "+refresh, handle(o.StartRefresh))
	mux.HandleFunc("GET "+refresh, handle(o.DescribeRefresh))
	mux.HandleFunc(refresh, methodNotAllowed("GET, POST"))
}

// List serves ListInsights: POST /clusters/{name}/insights with an optional
// body {filter, maxResults, nextToken}. Pages are cut from the IDs in order.
func (o *Operations) List(r *http.Request) (any, error) {
	var in eks.ListInsightsInput
	if r.ContentLength != 0 {
		if err := eksinput.DecodeBody(r, &in); err != nil {
			return nil, err
		}
	}
	f, err := validateFilter(in.Filter)
	if err != nil {
		return nil, err
	}
	limit, after, err := pageOf(&in)
	if err != nil {
		return nil, err
	}
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, err
	}
	byID := map[string]v1alpha1.ClusterInsight{}
	var ids []string
	for _, ins := range items(c) {
		if f.matches(&ins) {
			byID[ins.ID] = ins
			ids = append(ids, ins.ID)
		}
	}
	slices.Sort(ids)
	page, next := paging.Page(ids, after, limit)
	out := eks.ListInsightsOutput{Insights: []eks.InsightSummary{}, NextToken: next}
	for _, id := range page {
		ins := byID[id]
		out.Insights = append(out.Insights, summary(&ins))
	}
	return out, nil
}

// pageOf checks maxResults and nextToken.
func pageOf(in *eks.ListInsightsInput) (limit int, after string, err error) {
	limit = eks.DefaultListInsightsResults
	if in.MaxResults != nil {
		limit = *in.MaxResults
		if limit < eks.MinListInsightsResults || limit > eks.MaxListInsightsResults {
			return 0, "", errdefs.Publicf(errdefs.ErrInvalidParameter, "maxResults must be an integer from %d to %d; got %d.",
				eks.MinListInsightsResults, eks.MaxListInsightsResults, limit)
		}
	}
	if in.NextToken != "" {
		var ok bool
		if after, ok = paging.DecodeToken(in.NextToken); !ok {
			return 0, "", errdefs.Publicf(errdefs.ErrInvalidParameter, "The nextToken is not one ListInsights returned.")
		}
	}
	return limit, after, nil
}

// Describe serves DescribeInsight: GET /clusters/{name}/insights/{id}.
func (o *Operations) Describe(r *http.Request) (any, error) {
	id := r.PathValue("id")
	if !idRE.MatchString(id) {
		return nil, notFound(id)
	}
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, err
	}
	for _, ins := range items(c) {
		if ins.ID == id {
			return eks.DescribeInsightOutput{Insight: toWire(&ins)}, nil
		}
	}
	return nil, notFound(id)
}

// idRE is the shape of every ID the cell makes (and of EKS's).
var idRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func notFound(id string) error {
	return errdefs.Publicf(errdefs.ErrNotFound, "No insight found for id: %s.", id)
}

// items are the cluster's insights, none before the first refresh.
func items(c *v1alpha1.Cluster) []v1alpha1.ClusterInsight {
	if c.Status.Insights == nil {
		return nil
	}
	return c.Status.Insights.Items
}

// filter is a checked InsightsFilter; an empty set matches everything.
type filter struct{ categories, versions, statuses []string }

var minorRE = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)

// validateFilter checks every value of the filter against EKS's enums.
func validateFilter(in *eks.InsightsFilter) (filter, error) {
	if in == nil {
		return filter{}, nil
	}
	for _, c := range in.Categories {
		if !slices.Contains([]string{eks.InsightCategoryUpgradeReadiness, eks.InsightCategoryMisconfiguration, eks.InsightCategoryRollbackReadiness}, c) {
			return filter{}, errdefs.Publicf(errdefs.ErrInvalidParameter, "Category %q is not one of UPGRADE_READINESS, MISCONFIGURATION, ROLLBACK_READINESS.", c)
		}
	}
	for _, s := range in.Statuses {
		if !slices.Contains([]string{eks.InsightStatusPassing, eks.InsightStatusWarning, eks.InsightStatusError, eks.InsightStatusUnknown}, s) {
			return filter{}, errdefs.Publicf(errdefs.ErrInvalidParameter, "Status %q is not one of PASSING, WARNING, ERROR, UNKNOWN.", s)
		}
	}
	for _, v := range in.KubernetesVersions {
		if !minorRE.MatchString(v) {
			return filter{}, errdefs.Publicf(errdefs.ErrInvalidParameter, "Kubernetes version %q is not a minor version such as 1.37.", v)
		}
	}
	return filter{categories: in.Categories, versions: in.KubernetesVersions, statuses: in.Statuses}, nil
}

func (f filter) matches(ins *v1alpha1.ClusterInsight) bool {
	in := func(set []string, v string) bool { return len(set) == 0 || slices.Contains(set, v) }
	return in(f.categories, ins.Category) && in(f.versions, ins.KubernetesVersion) && in(f.statuses, ins.Status)
}

func summary(ins *v1alpha1.ClusterInsight) eks.InsightSummary {
	return eks.InsightSummary{ID: ins.ID, Name: ins.Name, Category: ins.Category, KubernetesVersion: ins.KubernetesVersion,
		LastRefreshTime: timeOf(ins.LastRefreshTime), LastTransitionTime: timeOf(ins.LastTransitionTime), Description: ins.Description,
		InsightStatus: &eks.InsightStatus{Status: ins.Status, Reason: ins.Reason}}
}

// toWire renders an insight as DescribeInsight shows it.
func toWire(ins *v1alpha1.ClusterInsight) *eks.Insight {
	out := &eks.Insight{InsightSummary: summary(ins), Recommendation: ins.Recommendation, AdditionalInfo: ins.AdditionalInfo,
		Resources: []eks.InsightResourceDetail{}}
	for _, r := range ins.Resources {
		out.Resources = append(out.Resources, eks.InsightResourceDetail{KubernetesResourceURI: r.KubernetesResourceURI,
			InsightStatus: &eks.InsightStatus{Status: r.Status, Reason: r.Reason}})
	}
	sum := &eks.InsightCategorySpecificSummary{}
	for _, d := range ins.Deprecations {
		w := eks.DeprecationDetail{Usage: d.Usage, ReplacedWith: d.ReplacedWith, StopServingVersion: d.StopServingVersion,
			StartServingReplacementVersion: d.StartServingReplacementVersion, ClientStats: []eks.ClientStat{}}
		for _, c := range d.Clients {
			w.ClientStats = append(w.ClientStats, eks.ClientStat{UserAgent: c.UserAgent, NumberOfRequestsLast30Days: int(c.Requests),
				LastRequestTime: timeOf(c.LastRequestTime)})
		}
		sum.DeprecationDetails = append(sum.DeprecationDetails, w)
	}
	for _, a := range ins.Addons {
		sum.AddonCompatibilityDetails = append(sum.AddonCompatibilityDetails, eks.AddonCompatibilityDetail{Name: a.Name, CompatibleVersions: a.CompatibleVersions})
	}
	if len(sum.DeprecationDetails)+len(sum.AddonCompatibilityDetails) > 0 {
		out.CategorySpecificSummary = sum
	}
	return out
}

func timeOf(t *metav1.Time) *eks.Timestamp {
	if t == nil {
		return nil
	}
	return eks.NewTimestamp(t.Time)
}

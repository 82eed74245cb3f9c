package insights

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// oneCluster serves one cluster to every request; the tests here need no store.
type oneCluster struct{ c *v1alpha1.Cluster }

func (o oneCluster) Cluster(*http.Request) (*v1alpha1.Cluster, error) { return o.c.DeepCopy(), nil }
func (o oneCluster) RequireActive(*v1alpha1.Cluster) error            { return nil }

func testCluster() *v1alpha1.Cluster {
	at := metav1.NewTime(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC))
	c := &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{Name: "c", Version: "1.36"}}
	c.Annotations = map[string]string{v1alpha1.AnnotationInsightsRefreshRequested: at.Format(time.RFC3339Nano)}
	c.Status.Insights = &v1alpha1.InsightsStatus{Request: at.Format(time.RFC3339Nano), Phase: eks.InsightsRefreshCompleted, EndedAt: &metav1.MicroTime{Time: at.Time},
		Items: []v1alpha1.ClusterInsight{
			{ID: "00000000-0000-0000-0000-000000000001", Name: "Deprecated APIs removed in Kubernetes v1.37", Category: eks.InsightCategoryUpgradeReadiness,
				KubernetesVersion: "1.37", Status: eks.InsightStatusError, LastRefreshTime: &at,
				Deprecations: []v1alpha1.InsightDeprecation{{Usage: "/apis/networking.k8s.io/v1beta1/servicecidrs", StopServingVersion: "1.37",
					Clients: []v1alpha1.InsightClient{{UserAgent: "old/1", Requests: 3, LastRequestTime: &at}}}}},
			{ID: "00000000-0000-0000-0000-000000000002", Name: "Rollback readiness", Category: eks.InsightCategoryRollbackReadiness,
				KubernetesVersion: "1.36", Status: eks.InsightStatusUnknown},
		}}
	return c
}

func serve(t *testing.T, o *Operations, method, path, body string) (int, string) {
	t.Helper()
	mux := http.NewServeMux()
	handle := func(op func(*http.Request) (any, error)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			out, err := op(r)
			if err != nil {
				code := http.StatusBadRequest
				if errors.Is(err, errdefs.ErrNotFound) {
					code = http.StatusNotFound
				}
				http.Error(w, err.Error(), code)
				return
			}
			_ = json.NewEncoder(w).Encode(out)
		}
	}
	o.Routes(mux, handle, func(string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusMethodNotAllowed) }
	})
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
	return rec.Code, rec.Body.String()
}

func TestListAndDescribe(t *testing.T) {
	o := &Operations{Clusters: oneCluster{testCluster()}}
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"list all, no body", "POST", "/clusters/c/insights", "", 200, `"Rollback readiness"`},
		{"list errors", "POST", "/clusters/c/insights", `{"filter":{"statuses":["ERROR"]}}`, 200, `"insights":[{"id":"00000000-0000-0000-0000-000000000001"`},
		{"list by version", "POST", "/clusters/c/insights", `{"filter":{"kubernetesVersions":["1.38"]}}`, 200, `"insights":[]`},
		{"page", "POST", "/clusters/c/insights", `{"maxResults":1}`, 200, `"nextToken"`},
		{"bad category", "POST", "/clusters/c/insights", `{"filter":{"categories":["NOPE"]}}`, 400, "NOPE"},
		{"bad status", "POST", "/clusters/c/insights", `{"filter":{"statuses":["error"]}}`, 400, "error"},
		{"bad version", "POST", "/clusters/c/insights", `{"filter":{"kubernetesVersions":["v1.37"]}}`, 400, "v1.37"},
		{"bad max", "POST", "/clusters/c/insights", `{"maxResults":101}`, 400, "maxResults"},
		{"bad token", "POST", "/clusters/c/insights", `{"nextToken":"x"}`, 400, "nextToken"},
		{"bad body", "POST", "/clusters/c/insights", `[]`, 400, "JSON object"},
		{"wrong method", "GET", "/clusters/c/insights", "", 405, ""},
		{"describe", "GET", "/clusters/c/insights/00000000-0000-0000-0000-000000000001", "", 200, `"clientStats":[{"userAgent":"old/1","numberOfRequestsLast30Days":3`},
		{"describe unknown", "GET", "/clusters/c/insights/00000000-0000-0000-0000-000000000009", "", 404, "No insight"},
		{"describe malformed", "GET", "/clusters/c/insights/x", "", 404, "No insight"},
		{"refresh state", "GET", "/clusters/c/insights-refresh", "", 200, `"status":"COMPLETED"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body := serve(t, o, tc.method, tc.path, tc.body)
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Fatalf("%d %s", code, body)
			}
		})
	}
}

func TestRefreshPending(t *testing.T) {
	c := testCluster()
	c.Annotations[v1alpha1.AnnotationInsightsRefreshRequested] = time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC).Format(time.RFC3339Nano)
	o := &Operations{Clusters: oneCluster{c}} // no store: a pending refresh writes nothing
	if code, body := serve(t, o, "POST", "/clusters/c/insights-refresh", ""); code != 200 || !strings.Contains(body, `"IN_PROGRESS"`) {
		t.Fatalf("start: %d %s", code, body)
	}
	if code, body := serve(t, o, "GET", "/clusters/c/insights-refresh", ""); code != 200 || !strings.Contains(body, `"IN_PROGRESS"`) {
		t.Fatalf("describe: %d %s", code, body)
	}
	delete(c.Annotations, v1alpha1.AnnotationInsightsRefreshRequested)
	if code, _ := serve(t, o, "GET", "/clusters/c/insights-refresh", ""); code != 404 {
		t.Fatalf("describe without a refresh: %d", code)
	}
}

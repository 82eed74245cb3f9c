package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
)

func TestDescribeCluster(t *testing.T) {
	h := newHarness(t)
	// The store sets the creation time, to the second, whatever a create sends.
	created := h.seed("demo").CreationTimestamp
	if created.IsZero() {
		t.Fatal("the store set no creation time")
	}
	got := h.do("GET", "/clusters/demo", nil).cluster(t)
	if got.Status != eks.StatusCreating || got.CreatedAt.Time().Unix() != created.Unix() || got.Endpoint != "" {
		t.Fatalf("fresh cluster: %+v", got)
	}

	h.pushStatus("demo", v1alpha1.ClusterStatus{
		Status: v1alpha1.StatusActive, Endpoint: "https://127.0.1.1:6443", CertificateAuthorityData: "Q0E=",
		KubernetesVersion: "v1.35.4",
		Components:        []v1alpha1.ComponentStatus{{Name: "etcd-a", Zone: "a", Address: "127.0.1.1:2379", PID: 42, Ready: true}},
		Conditions: []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Ready",
			LastTransitionTime: metav1.NewTime(time.Unix(1700000100, 0))}},
	})
	got = h.do("GET", "/clusters/demo", nil).cluster(t)
	if got.Status != eks.StatusActive || got.Endpoint != "https://127.0.1.1:6443" || got.CertificateAuthority.Data != "Q0E=" {
		t.Fatalf("active cluster: %+v", got)
	}
	x := got.Cellplane
	// The tenant sees no cell, address or PID (TestDescribeShowsTenantsNoHostInternals).
	if x.Cell != "" || x.KubernetesVersion != "v1.35.4" || len(x.Components) != 1 || x.Components[0].PID != 0 || x.Components[0].Address != "" || !x.Components[0].Ready ||
		len(x.Conditions) != 1 || x.Conditions[0].Status != "True" || x.Conditions[0].LastTransitionTime.Time().Unix() != 1700000100 {
		t.Fatalf("extension: %+v", x)
	}
}

func TestDescribeClusterWireFormat(t *testing.T) {
	h := newHarness(t)
	h.seed("demo")
	var raw map[string]map[string]any
	if err := json.Unmarshal(h.do("GET", "/clusters/demo", nil).body, &raw); err != nil {
		t.Fatal(err)
	}
	c := raw["cluster"]
	if _, ok := c["createdAt"].(float64); !ok {
		t.Errorf("createdAt %v is not epoch seconds", c["createdAt"])
	}
	for _, field := range []string{"name", "arn", "version", "status", "platformVersion", "tags", "health", "certificateAuthority", "cellplane"} {
		if _, ok := c[field]; !ok {
			t.Errorf("field %s missing from %v", field, c)
		}
	}
}

func TestDescribeFailedCluster(t *testing.T) {
	h := newHarness(t)
	h.seed("broken")
	h.pushStatus("broken", v1alpha1.ClusterStatus{Status: v1alpha1.StatusFailed, Reason: "etcd-b did not become healthy"})
	got := h.do("GET", "/clusters/broken", nil).cluster(t)
	if got.Status != eks.StatusFailed || len(got.Health.Issues) != 1 ||
		got.Health.Issues[0].Code != eks.IssueInternalFailure || got.Health.Issues[0].Message != "etcd-b did not become healthy" ||
		got.Cellplane.Reason != "etcd-b did not become healthy" {
		t.Fatalf("failed cluster: %+v health %+v", got, got.Health)
	}
}

func TestDescribeUnknownCluster(t *testing.T) {
	h := newHarness(t)
	for _, name := range []string{"nope", "Bad$Name", strings.Repeat("a", 101)} {
		h.do("GET", "/clusters/"+name, nil).wantError(t, 404, eks.ResourceNotFoundException, "No cluster found for name: "+name+".")
	}
}

func TestListClusters(t *testing.T) {
	h := newHarness(t)
	r := h.do("GET", "/clusters", nil)
	if r.status != 200 || strings.TrimSpace(string(r.body)) != `{"clusters":[]}` {
		t.Fatalf("empty list: %d %s", r.status, r.body)
	}
	var want []string
	for i := range 250 {
		name := fmt.Sprintf("c%03d", 249-i) // stored in reverse order, listed sorted
		h.seed(name)
		want = append(want, name)
	}
	slices.Sort(want)

	var got []string
	var sizes []int
	token := ""
	for {
		q := "?maxResults=100"
		if token != "" {
			q += "&nextToken=" + token
		}
		var out eks.ListClustersOutput
		r := h.do("GET", "/clusters"+q, nil)
		if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		got = append(got, out.Clusters...)
		sizes = append(sizes, len(out.Clusters))
		if out.NextToken == "" {
			break
		}
		token = out.NextToken
	}
	if !slices.Equal(sizes, []int{100, 100, 50}) || !slices.Equal(got, want) {
		t.Fatalf("pages of %v; names sorted and complete: %t", sizes, slices.Equal(got, want))
	}

	var out eks.ListClustersOutput
	_ = json.Unmarshal(h.do("GET", "/clusters", nil).body, &out)
	if len(out.Clusters) != 100 || out.NextToken == "" {
		t.Fatalf("default page: %d names, token %q", len(out.Clusters), out.NextToken)
	}
}

// A token stays valid when the cluster it names is deleted between pages.
func TestListClustersTokenSurvivesDeletion(t *testing.T) {
	h := newHarness(t)
	for _, n := range []string{"a", "b", "c"} {
		h.seed(n)
	}
	var first eks.ListClustersOutput
	_ = json.Unmarshal(h.do("GET", "/clusters?maxResults=2", nil).body, &first)
	b := h.stored("b")
	b.Finalizers = nil
	if err := h.store.Update(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if err := h.store.Delete(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	var second eks.ListClustersOutput
	_ = json.Unmarshal(h.do("GET", "/clusters?maxResults=2&nextToken="+first.NextToken, nil).body, &second)
	if !slices.Equal(second.Clusters, []string{"c"}) || second.NextToken != "" {
		t.Fatalf("second page %+v", second)
	}
}

func TestListClustersInvalidParameters(t *testing.T) {
	h := newHarness(t)
	h.seed("a")
	bad := base64.RawURLEncoding.EncodeToString([]byte("v1:bad name"))
	for _, tc := range []struct{ query, msg string }{
		{"maxResults=0", `maxResults must be an integer from 1 to 100; got "0".`},
		{"maxResults=101", `got "101"`},
		{"maxResults=abc", `got "abc"`},
		{"nextToken=!!!", "The nextToken is not valid"},
		{"nextToken=" + base64.RawURLEncoding.EncodeToString([]byte("a")), "The nextToken is not valid"},
		{"nextToken=" + bad, "The nextToken is not valid"},
	} {
		h.do("GET", "/clusters?"+tc.query, nil).wantError(t, 400, eks.InvalidParameterException, tc.msg)
	}
}

func TestDeleteCluster(t *testing.T) {
	h := newHarness(t)
	h.create(eks.CreateClusterInput{Name: "doomed"})
	if got := h.do("DELETE", "/clusters/doomed", nil).cluster(t); got.Status != eks.StatusDeleting {
		t.Fatalf("delete answered %s", got.Status)
	}
	if obj := h.stored("doomed"); obj.DeletionTimestamp == nil {
		t.Fatal("object not marked deleted")
	}
	// The cell has not let go yet: still there, still DELETING, and deleting again is fine.
	if got := h.do("GET", "/clusters/doomed", nil).cluster(t); got.Status != eks.StatusDeleting {
		t.Fatalf("describe answered %s", got.Status)
	}
	if got := h.do("DELETE", "/clusters/doomed", nil).cluster(t); got.Status != eks.StatusDeleting {
		t.Fatalf("second delete answered %s", got.Status)
	}
	// The cell agent removes the finalizer: the cluster is gone.
	obj := h.stored("doomed")
	obj.Finalizers = nil
	if err := h.store.Update(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
	h.do("GET", "/clusters/doomed", nil).wantError(t, 404, eks.ResourceNotFoundException, "No cluster found for name: doomed.")
	h.do("DELETE", "/clusters/doomed", nil).wantError(t, 404, eks.ResourceNotFoundException, "No cluster found for name: doomed.")
}

// A failed cluster that is being deleted shows DELETING, its failure still in health.
func TestDeleteFailedCluster(t *testing.T) {
	h := newHarness(t)
	h.seed("broken")
	h.pushStatus("broken", v1alpha1.ClusterStatus{Status: v1alpha1.StatusFailed, Reason: "no ports left"})
	got := h.do("DELETE", "/clusters/broken", nil).cluster(t)
	if got.Status != eks.StatusDeleting || len(got.Health.Issues) != 1 {
		t.Fatalf("deleted failed cluster: %s %+v", got.Status, got.Health)
	}
}

func TestKubeconfig(t *testing.T) {
	h := newHarness(t)
	h.create(eks.CreateClusterInput{Name: "kc"})
	h.do("GET", "/cellplane/clusters/kc/kubeconfig", nil).
		wantError(t, 404, eks.ResourceNotFoundException, "The kubeconfig of cluster kc is not available yet: the cluster is CREATING.")
	h.do("GET", "/cellplane/clusters/nope/kubeconfig", nil).
		wantError(t, 404, eks.ResourceNotFoundException, "No cluster found for name: nope.")

	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.KubeconfigSecretName(v1alpha1.ObjectName("kc")), Namespace: h.namespace()},
		Data:       map[string][]byte{v1alpha1.KubeconfigSecretKey: []byte("apiVersion: v1\nkind: Config\n")},
	}
	if err := h.store.Create(context.Background(), secret); err != nil {
		t.Fatal(err)
	}
	var out eks.KubeconfigOutput
	r := h.do("GET", "/cellplane/clusters/kc/kubeconfig", nil)
	if err := json.Unmarshal(r.body, &out); err != nil || out.Kubeconfig != "apiVersion: v1\nkind: Config\n" {
		t.Fatalf("kubeconfig: %d %s", r.status, r.body)
	}
	if strings.Contains(h.logs.String(), "kind: Config") {
		t.Fatal("the kubeconfig reached the log")
	}
}

func TestKubeconfigOfFailedCluster(t *testing.T) {
	h := newHarness(t)
	h.seed("broken")
	h.pushStatus("broken", v1alpha1.ClusterStatus{Status: v1alpha1.StatusFailed, Reason: "no ports left"})
	h.do("GET", "/cellplane/clusters/broken/kubeconfig", nil).
		wantError(t, 404, eks.ResourceNotFoundException, "not available: the cluster is FAILED: no ports left")
}

func TestRoutes(t *testing.T) {
	h := newHarness(t)
	for _, tc := range []struct {
		method, path string
		status       int
		typ, msg     string
		allow        string
	}{
		{"GET", "/nodegroups", 404, eks.NotFoundException, "No operation is served at GET /nodegroups.", ""},
		{"GET", "/clusters/a/b", 404, eks.NotFoundException, "No operation is served", ""},
		{"PUT", "/clusters", 405, eks.ClientException, "PUT is not allowed on /clusters; use GET, POST.", "GET, POST"},
		{"POST", "/clusters/x", 405, eks.ClientException, "use GET, DELETE", "GET, DELETE"},
		{"DELETE", "/cellplane/clusters/x/kubeconfig", 405, eks.ClientException, "use GET", "GET"},
	} {
		r := h.do(tc.method, tc.path, nil)
		r.wantError(t, tc.status, tc.typ, tc.msg)
		if r.header.Get("Allow") != tc.allow {
			t.Errorf("%s %s: Allow %q, want %q", tc.method, tc.path, r.header.Get("Allow"), tc.allow)
		}
		if r.header.Get(eks.HeaderRequestID) == "" {
			t.Errorf("%s %s: no request ID", tc.method, tc.path)
		}
	}
}

// Store failures become generic wire errors; their detail goes to the log only.
func TestStoreErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		status   int
		typ, msg string
	}{
		{"unreachable", errStoreDown, 500, eks.ServerException, "An internal error occurred. Request ID: "},
		{"overloaded", apiStatus(http.StatusTooManyRequests), 503, eks.ServiceUnavailableException, "The service is unavailable; retry later."},
		{"conflict", apiStatus(http.StatusConflict), 409, eks.ResourceInUseException, "The resource was changed by another request; retry."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, withInterceptor(interceptor.Funcs{
				Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
					return tc.err
				},
			}))
			r := h.do("GET", "/clusters/demo", nil)
			r.wantError(t, tc.status, tc.typ, tc.msg)
			if strings.Contains(string(r.body), "10.1.2.3") || strings.Contains(string(r.body), "acct-") {
				t.Fatalf("store detail leaked: %s", r.body)
			}
			if tc.status == 500 && (!strings.Contains(h.logs.String(), "10.1.2.3") || !strings.Contains(h.logs.String(), r.header.Get(eks.HeaderRequestID))) {
				t.Fatalf("the log lacks the detail or the request ID:\n%s", h.logs.String())
			}
		})
	}
}

package api

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/eks"
)

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func (r response) update(t *testing.T) *eks.Update {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var out eks.UpdateOutput
	if err := json.Unmarshal(r.body, &out); err != nil || out.Update == nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return out.Update
}

// activeCluster creates name through the API and marks it ACTIVE.
func (h *harness) activeCluster(name string) {
	h.t.Helper()
	h.activeClusterAt(name, "")
}

// activeClusterAt creates an ACTIVE cluster on minor version ("" for the
// default), running it as the cell would report.
func (h *harness) activeClusterAt(name, version string) {
	h.t.Helper()
	h.create(eks.CreateClusterInput{Name: name, Version: version, RoleArn: "arn:aws:iam::000000000000:role/x",
		ResourcesVpcConfig: json.RawMessage(`{"subnetIds":["s-1"],"endpointPublicAccess":true}`)})
	h.pushStatus(name, v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive})
}

// updateCount counts the stored ClusterUpdates of the harness's account.
func (h *harness) updateCount() int {
	h.t.Helper()
	var l v1alpha1.ClusterUpdateList
	if err := h.store.List(context.Background(), &l, client.InNamespace(h.namespace())); err != nil {
		h.t.Fatal(err)
	}
	return len(l.Items)
}

func TestUpdateClusterConfig(t *testing.T) {
	h := newHarness(t)
	h.activeCluster("demo")
	u := h.do("POST", "/clusters/demo/update-config", map[string]any{
		"logging": map[string]any{"clusterLogging": []any{map[string]any{"types": []string{"api"}, "enabled": true}}},
	}).update(t)
	if !uuidPattern.MatchString(u.ID) || u.Status != eks.UpdateStatusSuccessful || u.Type != eks.UpdateTypeLogging ||
		len(u.Params) != 1 || u.Params[0].Type != "ClusterLogging" || u.Params[0].Value != `[{"enabled":true,"types":["api"]}]` {
		t.Fatalf("logging update %+v", u)
	}
	v := h.do("POST", "/clusters/demo/update-config", map[string]any{"resourcesVpcConfig": map[string]any{"endpointPrivateAccess": true}}).update(t)
	if v.Type != eks.UpdateTypeEndpointAccess || len(v.Params) != 1 || v.Params[0].Type != "EndpointPrivateAccess" || v.Params[0].Value != "true" {
		t.Fatalf("endpoint update %+v", v)
	}
	w := h.do("POST", "/clusters/demo/update-config", map[string]any{"resourcesVpcConfig": map[string]any{"subnetIds": []string{"s-2"}}}).update(t)
	if w.Type != eks.UpdateTypeConfig {
		t.Fatalf("subnet update %+v", w)
	}
	// The echo keeps fields the updates did not name.
	if got := string(h.do("GET", "/clusters/demo", nil).cluster(t).ResourcesVpcConfig); got != `{"endpointPrivateAccess":true,"endpointPublicAccess":true,"subnetIds":["s-2"]}` {
		t.Fatalf("echoed vpc config %s", got)
	}
	if e := echoedOf(h.stored("demo")); !strings.Contains(string(e.Logging), `"api"`) || e.RoleArn == "" {
		t.Fatalf("echo %+v", e)
	}
	got := h.do("GET", "/clusters/demo/updates/"+u.ID, nil).update(t)
	if got.ID != u.ID || got.Status != u.Status || got.Type != u.Type {
		t.Fatalf("describe %+v, created %+v", got, u)
	}
	stored := h.stored("demo")
	var l v1alpha1.ClusterUpdateList
	_ = h.store.List(context.Background(), &l, client.InNamespace(h.namespace()))
	for _, it := range l.Items {
		if it.Labels[v1alpha1.LabelCluster] != stored.Name || !strings.HasPrefix(it.Name, stored.Name+"-") || it.Spec.ClusterName != stored.Name {
			t.Fatalf("stored update %+v", it.ObjectMeta)
		}
	}
}

func TestUpdateClusterConfigErrors(t *testing.T) {
	h := newHarness(t)
	h.activeCluster("demo")
	h.create(eks.CreateClusterInput{Name: "young"})
	logging := map[string]any{"logging": map[string]any{}}
	before := h.stored("demo").Annotations[annotationEKSRequest]
	for _, tc := range []struct {
		name, path string
		body       any
		status     int
		typ, msg   string
	}{
		{"nothing to change", "/clusters/demo/update-config", map[string]any{}, 400, eks.InvalidParameterException, "changes nothing"},
		{"logging not an object", "/clusters/demo/update-config", map[string]any{"logging": 1}, 400, eks.InvalidRequestException, "logging"},
		{"bad token", "/clusters/demo/update-config", map[string]any{"logging": map[string]any{}, "clientRequestToken": strings.Repeat("x", 65)}, 400, eks.InvalidParameterException, "clientRequestToken"},
		{"not json", "/clusters/demo/update-config", "[", 400, eks.InvalidRequestException, "JSON"},
		{"unknown cluster", "/clusters/nosuch/update-config", logging, 404, eks.ResourceNotFoundException, "nosuch"},
		{"not active", "/clusters/young/update-config", logging, 409, eks.ResourceInUseException, "CREATING"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.do("POST", tc.path, tc.body).wantError(t, tc.status, tc.typ, tc.msg)
		})
	}
	if h.updateCount() != 0 || h.stored("demo").Annotations[annotationEKSRequest] != before {
		t.Fatal("a rejected request left an update or changed the cluster")
	}
}

func TestUpdateTokenRetry(t *testing.T) {
	h := newHarness(t)
	h.activeCluster("demo")
	body := map[string]any{"logging": map[string]any{"clusterLogging": []any{}}, "clientRequestToken": "tok-1"}
	first := h.do("POST", "/clusters/demo/update-config", body).update(t)
	again := h.do("POST", "/clusters/demo/update-config", body).update(t)
	if again.ID != first.ID || h.updateCount() != 1 {
		t.Fatalf("retry made update %s after %s (%d stored)", again.ID, first.ID, h.updateCount())
	}
	other := map[string]any{"resourcesVpcConfig": map[string]any{"endpointPrivateAccess": true}, "clientRequestToken": "tok-1"}
	h.do("POST", "/clusters/demo/update-config", other).wantError(t, 400, eks.InvalidParameterException, "different update")
	if h.updateCount() != 1 {
		t.Fatal("a reused token made a second update")
	}
}

func TestUpdateClusterVersion(t *testing.T) {
	withReleases(t, components.Release{Minor: "1.35", Version: "v1.35.4"}, components.Release{Minor: "1.36", Version: "v1.36.0"}, components.Release{Minor: "1.37", Version: "v1.37.0"})
	h := newHarness(t)
	h.activeClusterAt("demo", "1.35")
	body := eks.UpdateClusterVersionInput{Version: "v1.36.0", ClientRequestToken: "up-1"}
	u := h.do("POST", "/clusters/demo/updates", body).update(t)
	if u.Type != eks.UpdateTypeVersion || u.Status != eks.UpdateStatusInProgress || !uuidPattern.MatchString(u.ID) ||
		!slices.Contains(u.Params, eks.UpdateParam{Type: "Version", Value: "1.36"}) {
		t.Fatalf("update %+v", u)
	}
	if v := h.stored("demo").Spec.Version; v != "1.36" {
		t.Fatalf("spec.version %s", v)
	}
	// A retry after the version moved still answers the same update.
	if again := h.do("POST", "/clusters/demo/updates", body).update(t); again.ID != u.ID || h.updateCount() != 1 {
		t.Fatalf("retry gave %s, want %s", again.ID, u.ID)
	}
	// A second upgrade waits for the first.
	h.do("POST", "/clusters/demo/updates", eks.UpdateClusterVersionInput{Version: "1.37"}).wantError(t, 409, eks.ResourceInUseException, "in progress")
}

func TestUpdateClusterVersionErrors(t *testing.T) {
	withReleases(t, components.Release{Minor: "1.34", Version: "v1.34.2"}, components.Release{Minor: "1.35", Version: "v1.35.4"},
		components.Release{Minor: "1.36", Version: "v1.36.0"}, components.Release{Minor: "1.37", Version: "v1.37.0"})
	h := newHarness(t)
	h.activeClusterAt("demo", "1.35")
	h.create(eks.CreateClusterInput{Name: "young", Version: "1.35"})
	for _, tc := range []struct {
		name, cluster string
		body          any
		status        int
		typ, msg      string
	}{
		{"no version", "demo", eks.UpdateClusterVersionInput{}, 400, eks.InvalidParameterException, "missing"},
		{"unknown version", "demo", eks.UpdateClusterVersionInput{Version: "1.99"}, 400, eks.InvalidParameterException, "not supported"},
		{"same version", "demo", eks.UpdateClusterVersionInput{Version: "1.35"}, 400, eks.InvalidParameterException, "already runs"},
		{"two minors", "demo", eks.UpdateClusterVersionInput{Version: "1.37"}, 400, eks.InvalidParameterException, "one minor version at a time"},
		{"downgrade", "demo", eks.UpdateClusterVersionInput{Version: "1.34"}, 400, eks.InvalidParameterException, "one minor version at a time"},
		{"bad token", "demo", eks.UpdateClusterVersionInput{Version: "1.36", ClientRequestToken: "a b"}, 400, eks.InvalidParameterException, "clientRequestToken"},
		{"not json", "demo", "nope", 400, eks.InvalidRequestException, "JSON"},
		{"unknown cluster", "nosuch", eks.UpdateClusterVersionInput{Version: "1.36"}, 404, eks.ResourceNotFoundException, "nosuch"},
		{"not active", "young", eks.UpdateClusterVersionInput{Version: "1.36"}, 409, eks.ResourceInUseException, "ACTIVE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.do("POST", "/clusters/"+tc.cluster+"/updates", tc.body).wantError(t, tc.status, tc.typ, tc.msg)
		})
	}
	if h.updateCount() != 0 || h.stored("demo").Spec.Version != "1.35" || h.stored("young").Spec.Version != "1.35" {
		t.Fatal("a rejected request changed something")
	}
}

func TestUpdateClusterVersionTodayRejectsEverything(t *testing.T) {
	h := newHarness(t)
	h.activeCluster("demo")
	for _, v := range []string{components.Default().Minor, "1.36"} {
		h.do("POST", "/clusters/demo/updates", eks.UpdateClusterVersionInput{Version: v}).wantError(t, 400, eks.InvalidParameterException, "")
	}
}

func TestListAndDescribeUpdates(t *testing.T) {
	h := newHarness(t)
	h.activeCluster("demo")
	h.activeCluster("other")
	var ids []string
	for range 5 {
		ids = append(ids, h.do("POST", "/clusters/demo/update-config", map[string]any{"logging": map[string]any{}}).update(t).ID)
	}
	h.do("POST", "/clusters/other/update-config", map[string]any{"logging": map[string]any{}}).update(t)
	var paged []string
	token := ""
	for range 10 {
		var out eks.ListUpdatesOutput
		r := h.do("GET", "/clusters/demo/updates?maxResults=2&nextToken="+token, nil)
		if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 || len(out.UpdateIDs) > 2 {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		paged = append(paged, out.UpdateIDs...)
		if token = out.NextToken; token == "" {
			break
		}
	}
	slices.Sort(ids)
	slices.Sort(paged)
	if !slices.Equal(ids, paged) {
		t.Fatalf("paged %v, want %v", paged, ids)
	}
	var empty eks.ListUpdatesOutput
	h.create(eks.CreateClusterInput{Name: "fresh"})
	if r := h.do("GET", "/clusters/fresh/updates", nil); json.Unmarshal(r.body, &empty) != nil || empty.UpdateIDs == nil || len(empty.UpdateIDs) != 0 {
		t.Fatalf("empty list %s", r.body)
	}
	for _, tc := range []struct {
		path     string
		status   int
		typ, msg string
	}{
		{"/clusters/demo/updates?maxResults=0", 400, eks.InvalidParameterException, "maxResults"},
		{"/clusters/demo/updates?maxResults=101", 400, eks.InvalidParameterException, "maxResults"},
		{"/clusters/demo/updates?nextToken=bad", 400, eks.InvalidParameterException, "nextToken"},
		{"/clusters/nosuch/updates", 404, eks.ResourceNotFoundException, "nosuch"},
		{"/clusters/demo/updates?nodegroupName=ng", 404, eks.ResourceNotFoundException, "No node group found for name: ng"},
		{"/clusters/demo/updates/" + ids[0] + "?addonName=vpc-cni", 404, eks.ResourceNotFoundException, "addon"},
		{"/clusters/demo/updates/00000000-0000-4000-8000-000000000000", 404, eks.ResourceNotFoundException, "No update found"},
		{"/clusters/nosuch/updates/" + ids[0], 404, eks.ResourceNotFoundException, "nosuch"},
		{"/clusters/other/updates/" + ids[0], 404, eks.ResourceNotFoundException, "No update found"},
	} {
		h.do("GET", tc.path, nil).wantError(t, tc.status, tc.typ, tc.msg)
	}
	h.do("DELETE", "/clusters/demo/updates", nil).wantError(t, 405, eks.ClientException, "not allowed")
}

package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestCreateCluster(t *testing.T) {
	h := newHarness(t)
	got := h.create(eks.CreateClusterInput{
		Name: "demo", Version: "1.35", Tags: map[string]string{"team": "platform"}, ClientRequestToken: "tok-1",
	})

	for field, pair := range map[string][2]string{
		"name":            {got.Name, "demo"},
		"arn":             {got.Arn, "arn:cellplane:eks:local:" + h.account + ":cluster/demo"},
		"version":         {got.Version, "1.35"},
		"status":          {got.Status, "CREATING"},
		"platformVersion": {got.PlatformVersion, "cellplane.1"},
		"token":           {got.ClientRequestToken, "tok-1"},
		"cell":            {got.Cellplane.Cell, ""}, // the operator's to see, not the tenant's
	} {
		if pair[0] != pair[1] {
			t.Errorf("%s = %q, want %q", field, pair[0], pair[1])
		}
	}
	if got.Tags["team"] != "platform" || got.Health == nil || got.Health.Issues == nil || len(got.Health.Issues) != 0 {
		t.Errorf("tags %v, health %+v", got.Tags, got.Health)
	}

	obj := h.stored("demo")
	if obj.Spec.Cell != "cell-1" || obj.Labels[v1alpha1.LabelCell] != "cell-1" ||
		obj.Labels[v1alpha1.LabelAccount] != h.account ||
		!slices.Contains(obj.Finalizers, v1alpha1.RegionFinalizer) ||
		obj.Spec.ClientRequestToken != "tok-1" || obj.Spec.Tags["team"] != "platform" {
		t.Errorf("stored object: %+v", obj)
	}
	if _, namespaces := h.count(); namespaces != 1 {
		t.Errorf("%d namespaces, want the account's one", namespaces)
	}
}

// Without a verifier every request acts for the default account.
func TestUnsignedRequestsActForTheDefaultAccount(t *testing.T) {
	h := newHarness(t, unsigned())
	got := h.create(eks.CreateClusterInput{Name: "unsigned"})
	env.DeleteOnCleanup(t, h.stored("unsigned")) // the next -count run creates it again
	if want := "arn:cellplane:eks:local:" + v1alpha1.DefaultAccount + ":cluster/unsigned"; got.Arn != want {
		t.Fatalf("arn %s, want %s", got.Arn, want)
	}
	if obj := h.stored("unsigned"); obj.Namespace != v1alpha1.Namespace(v1alpha1.DefaultAccount) || obj.Labels[v1alpha1.LabelAccount] != v1alpha1.DefaultAccount {
		t.Fatalf("stored in %s with labels %v", obj.Namespace, obj.Labels)
	}
}

func TestCreateClusterDefaults(t *testing.T) {
	h := newHarness(t)
	got := h.create(eks.CreateClusterInput{Name: "Prod_Cluster"})
	if got.Version != components.Default().Minor || got.Tags == nil || got.Status != eks.StatusCreating {
		t.Fatalf("defaults: version %q, tags %v, status %q", got.Version, got.Tags, got.Status)
	}
	if obj := h.stored("Prod_Cluster"); obj.Name != v1alpha1.ObjectName("Prod_Cluster") {
		t.Fatalf("object name %q", obj.Name)
	}
	// An exact release is the same request as its minor.
	if got := h.create(eks.CreateClusterInput{Name: "exact", Version: "v1.35.4"}); got.Version != "1.35" {
		t.Fatalf("version %q, want the minor", got.Version)
	}
}

// EKS fields cellplane does not implement are accepted; roleArn and
// resourcesVpcConfig come back as given.
func TestCreateClusterEchoesEKSFields(t *testing.T) {
	h := newHarness(t)
	body := `{
		"name": "echo", "roleArn": "arn:aws:iam::000000000000:role/eks",
		"resourcesVpcConfig": {"subnetIds": ["subnet-1", "subnet-2"], "endpointPublicAccess": true},
		"kubernetesNetworkConfig": {"serviceIpv4Cidr": "10.100.0.0/16"},
		"logging": {"clusterLogging": [{"types": ["api"], "enabled": true}]},
		"accessConfig": {"authenticationMode": "API"},
		"bootstrapSelfManagedAddons": false
	}`
	got := h.do("POST", "/clusters", body).cluster(t)
	if got.RoleArn != "arn:aws:iam::000000000000:role/eks" {
		t.Errorf("roleArn %q", got.RoleArn)
	}
	if string(got.ResourcesVpcConfig) != `{"subnetIds":["subnet-1","subnet-2"],"endpointPublicAccess":true}` {
		t.Errorf("resourcesVpcConfig %s", got.ResourcesVpcConfig)
	}
	described := h.do("GET", "/clusters/echo", nil).cluster(t)
	if described.RoleArn != got.RoleArn || string(described.ResourcesVpcConfig) != string(got.ResourcesVpcConfig) {
		t.Errorf("describe does not echo: %+v", described)
	}
}

func TestCreateClusterValidation(t *testing.T) {
	manyTags := map[string]string{}
	for i := range 51 {
		manyTags[fmt.Sprintf("k%d", i)] = "v"
	}
	for _, tc := range []struct {
		name   string
		body   any
		status int
		typ    string
		msg    string
	}{
		{"missing name", `{"version":"1.35"}`, 400, eks.InvalidParameterException, "The cluster name is missing. The cluster name must be 1-100 characters"},
		{"name starts with hyphen", eks.CreateClusterInput{Name: "-x"}, 400, eks.InvalidParameterException, `The cluster name "-x" is not valid. The cluster name must be 1-100 characters, start with a letter or digit, and contain only letters, digits, hyphens and underscores.`},
		{"name with space", eks.CreateClusterInput{Name: "a b"}, 400, eks.InvalidParameterException, `"a b" is not valid`},
		{"name with slash", eks.CreateClusterInput{Name: "a/b"}, 400, eks.InvalidParameterException, "is not valid"},
		{"name too long", eks.CreateClusterInput{Name: strings.Repeat("a", 101)}, 400, eks.InvalidParameterException, "is not valid"},
		{"unsupported version", eks.CreateClusterInput{Name: "x", Version: "1.20"}, 400, eks.InvalidParameterException, `Kubernetes version "1.20" is not supported. Supported versions: 1.34, 1.35, 1.36, 1.37.`},
		{"too many tags", eks.CreateClusterInput{Name: "x", Tags: manyTags}, 400, eks.ResourceLimitExceededException, "at most 50 tags; this would give it 51"},
		{"empty tag key", eks.CreateClusterInput{Name: "x", Tags: map[string]string{"": "v"}}, 400, eks.InvalidParameterException, `The tag key "" must be 1-128 characters.`},
		{"long tag key", eks.CreateClusterInput{Name: "x", Tags: map[string]string{strings.Repeat("k", 129): "v"}}, 400, eks.InvalidParameterException, "must be 1-128 characters"},
		{"long tag value", eks.CreateClusterInput{Name: "x", Tags: map[string]string{"k": strings.Repeat("v", 257)}}, 400, eks.InvalidParameterException, `The value of tag "k" must be at most 256 characters.`},
		{"reserved tag prefix", eks.CreateClusterInput{Name: "x", Tags: map[string]string{"AWS:x": "v"}}, 400, eks.InvalidParameterException, "the aws: prefix is reserved"},
		{"control character in tag", eks.CreateClusterInput{Name: "x", Tags: map[string]string{"k": "a\nb"}}, 400, eks.InvalidParameterException, `The value of tag "k" may contain only`},
		{"token too long", eks.CreateClusterInput{Name: "x", ClientRequestToken: strings.Repeat("t", 65)}, 400, eks.InvalidParameterException, "clientRequestToken must be at most 64"},
		{"restore source missing", eks.CreateClusterInput{Name: "x", Cellplane: &eks.CreateOptions{FromBackup: &eks.FromBackup{}}}, 400, eks.InvalidParameterException, "cellplane.fromBackup.cluster is missing"},
		{"restore source invalid", eks.CreateClusterInput{Name: "x", Cellplane: &eks.CreateOptions{FromBackup: &eks.FromBackup{Cluster: "a.b"}}}, 400, eks.InvalidParameterException, `cellplane.fromBackup.cluster "a.b" is not a valid cluster name.`},
		{"restore from itself", eks.CreateClusterInput{Name: "x", Cellplane: &eks.CreateOptions{FromBackup: &eks.FromBackup{Cluster: "x"}}}, 400, eks.InvalidParameterException, "cannot be the cluster being created"},
		{"restore negative revision", eks.CreateClusterInput{Name: "x", Cellplane: &eks.CreateOptions{FromBackup: &eks.FromBackup{Cluster: "y", Revision: -1}}}, 400, eks.InvalidParameterException, "revision must be 0 (the newest covered) or a positive etcd revision; got -1."},
		{"restore set with a slash", eks.CreateClusterInput{Name: "x", Cellplane: &eks.CreateOptions{FromBackup: &eks.FromBackup{Cluster: "y", Set: "../z"}}}, 400, eks.InvalidParameterException, `cellplane.fromBackup.set "../z" is not a backup set UID`},
		{"malformed JSON", `{"name": "x"`, 400, eks.InvalidRequestException, "ends in the middle of its JSON object"},
		{"syntax error", `{"name": x}`, 400, eks.InvalidRequestException, "The request body is not valid JSON (at byte"},
		{"empty body", "", 400, eks.InvalidRequestException, "The request body is empty; expected a JSON object."},
		{"array body", `["x"]`, 400, eks.InvalidRequestException, "The request body must be a JSON object."},
		{"wrong field type", `{"name": 5}`, 400, eks.InvalidRequestException, "The field name must be a JSON string."},
		{"tags not an object", `{"name": "x", "tags": ["a"]}`, 400, eks.InvalidRequestException, "The field tags must be a JSON object."},
		{"vpc config not an object", `{"name": "x", "resourcesVpcConfig": "subnet-1"}`, 400, eks.InvalidRequestException, "The field resourcesVpcConfig must be a JSON object."},
		{"trailing data", `{"name": "x"} {"name": "y"}`, 400, eks.InvalidRequestException, "must hold a single JSON object"},
		{"body too large", `{"name": "x", "roleArn": "` + strings.Repeat("a", eksinput.MaxBodyBytes) + `"}`, 400, eks.InvalidRequestException, "larger than 1048576 bytes"},
		{"echoed fields too large", `{"name": "x", "roleArn": "` + strings.Repeat("a", eksinput.MaxEchoBytes) + `"}`, 400, eks.InvalidParameterException, "together exceed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.do("POST", "/clusters", tc.body).wantError(t, tc.status, tc.typ, tc.msg)
			if clusters, namespaces := h.count(); clusters != 0 || namespaces != 0 {
				t.Fatalf("bad input left %d clusters and %d namespaces", clusters, namespaces)
			}
		})
	}
}

func TestCreateClusterDuplicates(t *testing.T) {
	h := newHarness(t)
	first := h.create(eks.CreateClusterInput{Name: "dup", Tags: map[string]string{"a": "1"}, ClientRequestToken: "tok"})

	t.Run("same token and parameters is a retry", func(t *testing.T) {
		again := h.create(eks.CreateClusterInput{Name: "dup", Tags: map[string]string{"a": "1"}, ClientRequestToken: "tok"})
		if again.Arn != first.Arn || again.ClientRequestToken != "tok" {
			t.Fatalf("retry answered %+v", again)
		}
	})
	for _, tc := range []struct {
		name string
		in   eks.CreateClusterInput
		msg  string
	}{
		{"no token", eks.CreateClusterInput{Name: "dup", Tags: map[string]string{"a": "1"}}, "Cluster already exists with name: dup"},
		{"other token", eks.CreateClusterInput{Name: "dup", Tags: map[string]string{"a": "1"}, ClientRequestToken: "other"}, "Cluster already exists with name: dup"},
		{"same token, a restore", eks.CreateClusterInput{Name: "dup", Tags: map[string]string{"a": "1"}, ClientRequestToken: "tok",
			Cellplane: &eks.CreateOptions{FromBackup: &eks.FromBackup{Cluster: "src"}}}, "created with this clientRequestToken but different parameters"},
		{"same token, other tags", eks.CreateClusterInput{Name: "dup", Tags: map[string]string{"a": "2"}, ClientRequestToken: "tok"}, "created with this clientRequestToken but different parameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h.do("POST", "/clusters", tc.in).wantError(t, http.StatusConflict, eks.ResourceInUseException, tc.msg)
		})
	}
	if clusters, _ := h.count(); clusters != 1 {
		t.Fatalf("%d clusters stored, want 1", clusters)
	}
	// Names differing only in case are different clusters.
	h.create(eks.CreateClusterInput{Name: "DUP"})
}

func TestCreateClusterWhileDeleting(t *testing.T) {
	h := newHarness(t)
	h.create(eks.CreateClusterInput{Name: "gone", ClientRequestToken: "t"})
	h.do("DELETE", "/clusters/gone", nil).cluster(t)
	h.do("POST", "/clusters", eks.CreateClusterInput{Name: "gone", ClientRequestToken: "t"}).
		wantError(t, http.StatusConflict, eks.ResourceInUseException, "It is being deleted; retry once the deletion completes.")
}

// Two names that map to the same object name must not see each other's cluster.
func TestCreateClusterObjectNameCollision(t *testing.T) {
	h := newHarness(t)
	c := h.seed("other")
	c.Spec.Name = "Other"
	// Pretend "Other" had hashed to the object name of "other".
	if err := h.store.Update(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	h.do("POST", "/clusters", eks.CreateClusterInput{Name: "other"}).
		wantError(t, http.StatusConflict, eks.ResourceInUseException, "stored under the same object name as cluster Other")
	h.do("GET", "/clusters/other", nil).wantError(t, 404, eks.ResourceNotFoundException, "No cluster found for name: other.")
}

func TestCreateClusterPlacementErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		status int
		typ    string
		msg    string
	}{
		{"no capacity", fmt.Errorf("every cell is full: %w", errdefs.ErrLimitExceeded), 400, eks.ResourceLimitExceededException,
			"Cluster x cannot be placed: every cell of this region is full or draining. Retry later or ask the operator to add capacity."},
		{"cells unreachable", fmt.Errorf("every cell is full: %w", errdefs.ErrUnavailable), 503, eks.ServiceUnavailableException,
			"Cluster x cannot be placed right now: no cell with room is reachable. Retry in a minute."},
		{"internal", errStoreDown, 500, eks.ServerException, "An internal error occurred. Request ID: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, withPlacer(errPlacer{tc.err}))
			r := h.do("POST", "/clusters", eks.CreateClusterInput{Name: "x"})
			r.wantError(t, tc.status, tc.typ, tc.msg)
			if strings.Contains(string(r.body), "10.1.2.3") || strings.Contains(string(r.body), "cell is full") {
				t.Fatalf("internal detail leaked: %s", r.body)
			}
			if clusters, namespaces := h.count(); clusters != 0 || namespaces != 0 {
				t.Fatal("placement failed but a cluster or namespace was stored")
			}
		})
	}
}

// A create that loses a race with an identical one answers as a retry.
func TestCreateClusterConcurrentRetry(t *testing.T) {
	h := newHarness(t, withInterceptor(interceptor.Funcs{
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if cl, ok := obj.(*v1alpha1.Cluster); ok {
				// The other request gets there first.
				twin := cl.DeepCopy()
				if err := c.Create(ctx, twin); err != nil {
					return err
				}
			}
			return c.Create(ctx, obj, opts...)
		},
	}))
	got := h.create(eks.CreateClusterInput{Name: "race", ClientRequestToken: "tok"})
	if got.Name != "race" {
		t.Fatalf("got %+v", got)
	}
	// Without a token the twin is another request's cluster: refused.
	h.do("POST", "/clusters", eks.CreateClusterInput{Name: "race2"}).wantError(t, http.StatusConflict, eks.ResourceInUseException, "Cluster already exists with name: race2")
}

func TestCreateClusterLogsNoBody(t *testing.T) {
	h := newHarness(t)
	h.create(eks.CreateClusterInput{Name: "logged", Tags: map[string]string{"secret": "hunter2"}})
	logs := h.logs.String()
	for _, want := range []string{"method=POST", "path=/clusters", "status=200", "cluster=logged", "duration="} {
		if !strings.Contains(logs, want) {
			t.Errorf("access log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "hunter2") {
		t.Errorf("access log holds the request body:\n%s", logs)
	}
}

func TestStoredEchoAnnotationIsCompact(t *testing.T) {
	h := newHarness(t)
	h.do("POST", "/clusters", `{"name":"c","resourcesVpcConfig": { "subnetIds" : [ "s" ] }}`).cluster(t)
	var e eksinput.Echoed
	if err := json.Unmarshal([]byte(h.stored("c").Annotations[annotationEKSRequest]), &e); err != nil || string(e.ResourcesVpcConfig) != `{"subnetIds":["s"]}` {
		t.Fatalf("annotation %v, %v", e, err)
	}
	// Whitespace does not make a retry a different request.
	h.do("POST", "/clusters", `{"name":"d","clientRequestToken":"t","resourcesVpcConfig":{"subnetIds":["s"]}}`).cluster(t)
	h.do("POST", "/clusters", `{"name":"d","clientRequestToken":"t","resourcesVpcConfig":{ "subnetIds": ["s"] }}`).cluster(t)
}

func TestCreateClusterFromBackup(t *testing.T) {
	h := newHarness(t)
	in := eks.CreateClusterInput{Name: "dst", ClientRequestToken: "tok",
		Cellplane: &eks.CreateOptions{FromBackup: &eks.FromBackup{Cluster: "src", Set: "abc-123", Revision: 42}}}
	h.create(in)
	want := v1alpha1.RestoreSource{Cluster: "src", Set: "abc-123", Revision: 42}
	if got := h.stored("dst").Spec.RestoreFrom; got == nil || *got != want {
		t.Fatalf("stored restoreFrom %+v, want %+v", got, want)
	}
	h.create(in) // the same request again is a retry
	other := in
	other.Cellplane = &eks.CreateOptions{FromBackup: &eks.FromBackup{Cluster: "src", Revision: 43}}
	h.do("POST", "/clusters", other).wantError(t, http.StatusConflict, eks.ResourceInUseException, "different parameters")
}

package cli

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/sigv4"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	regionapi "github.com/cellplane/cellplane/internal/region/api"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

var env storetest.Env

// region is the real regional API on the real management store, served over TLS
// and written to a data directory's endpoint.json as `cellplane up` would. Its
// key belongs to an account of its own, so a test lists only its own clusters.
type testRegion struct {
	t       *testing.T
	store   client.Client
	account string
	cli     cli
}

func newRegion(t *testing.T) *testRegion {
	t.Helper()
	store, account := env.Client(t), env.Account()
	// The API verifies signatures as `cellplane up` makes it do, so every CLI
	// command here proves it signs with the data directory's profile.
	keys := sigv4.StaticKeys{testAKID: {AccessKeyID: testAKID, SecretAccessKey: testSecret, Account: account}}
	h, err := regionapi.NewHandler(regionapi.Config{Client: store, Placer: regionapi.StaticPlacer{Cell: "cell-1"}, Verifier: &sigv4.Verifier{Keys: keys}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)

	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.crt")
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	if err := os.WriteFile(caFile, ca, 0o600); err != nil {
		t.Fatal(err)
	}
	ep, _ := json.Marshal(datadir.Endpoint{URL: srv.URL, CAFile: caFile, PID: os.Getpid()})
	if err := os.WriteFile(datadir.EndpointFile(dir), ep, 0o600); err != nil {
		t.Fatal(err)
	}
	writeProfile(t, dir)
	return &testRegion{t: t, store: store, account: account, cli: cli{t, dir}}
}

const (
	testAKID   = "CPAKTESTTESTTESTTEST"
	testSecret = "test-secret-test-secret-test-secret-0000"
)

// writeProfile writes the AWS profile `cellplane up` would.
func writeProfile(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "aws"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := "[profile " + datadir.Profile + "]\nregion = local\n"
	creds := "[" + datadir.Profile + "]\naws_access_key_id = " + testAKID + "\naws_secret_access_key = " + testSecret + "\n"
	for path, data := range map[string]string{datadir.AWSConfigFile(dir): cfg, datadir.AWSCredentialsFile(dir): creds} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func (r *testRegion) must(args ...string) (stdout, stderr string) {
	r.t.Helper()
	out, errOut, err := r.cli.run(args...)
	if err != nil {
		r.t.Fatalf("cellplane %s: %v (%s)", strings.Join(args, " "), err, errOut)
	}
	return out, errOut
}

func (r *testRegion) key(name string) client.ObjectKey {
	return client.ObjectKey{Namespace: v1alpha1.Namespace(r.account), Name: v1alpha1.ObjectName(name)}
}

func (r *testRegion) stored(name string) *v1alpha1.Cluster {
	r.t.Helper()
	c := &v1alpha1.Cluster{}
	if err := r.store.Get(context.Background(), r.key(name), c); err != nil {
		r.t.Fatalf("stored cluster %s: %v", name, err)
	}
	return c
}

// report writes a status as the cell's agent would.
func (r *testRegion) report(name string, st v1alpha1.ClusterStatus) {
	r.t.Helper()
	c := r.stored(name)
	c.Status = st
	if err := r.store.Status().Update(context.Background(), c); err != nil {
		r.t.Fatal(err)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestClusterCommands(t *testing.T) {
	r := newRegion(t)

	out, _ := r.must("cluster", "create", "demo", "--tag", "team=a", "--version", "1.35")
	for _, want := range []string{"Name:", "demo", "Status:", "CREATING", "Version:", "1.35", "Endpoint:", "-"} {
		if !strings.Contains(out, want) {
			t.Errorf("create printed %q, want %q in it", out, want)
		}
	}
	if tags := r.stored("demo").Spec.Tags; tags["team"] != "a" {
		t.Errorf("stored tags = %v", tags)
	}

	_, _, err := r.cli.run("cluster", "create", "demo")
	var apiErr *eks.APIError
	if !errors.As(err, &apiErr) || apiErr.Type != eks.ResourceInUseException || clikit.ExitCode(err) != 1 {
		t.Errorf("second create = %v, want ResourceInUseException", err)
	} else if msg := clikit.UserMessage(err); strings.Contains(msg, eks.ResourceInUseException) || !strings.Contains(msg, "demo") {
		t.Errorf("user sees %q, want the API's own message", msg)
	}

	out, _ = r.must("cluster", "list")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "NAME") || !strings.HasPrefix(lines[1], "demo ") || !strings.Contains(lines[1], "CREATING") {
		t.Errorf("list printed %q", out)
	}

	out, _ = r.must("cluster", "list", "-o", "json")
	var list struct{ Clusters []eks.Cluster }
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Clusters) != 1 || list.Clusters[0].Name != "demo" {
		t.Errorf("list -o json = %q (%v)", out, err)
	}

	r.report("demo", v1alpha1.ClusterStatus{
		Status: v1alpha1.StatusCreating, Reason: "waiting for etcd-b", Endpoint: "https://127.101.128.1:6443",
		Components: []v1alpha1.ComponentStatus{
			{Name: "etcd-a", Zone: "a", Address: "127.101.32.1:2379", PID: 4242, Ready: true},
			{Name: "etcd-b", Zone: "b", Address: "127.101.64.1:2379", Ready: false, Restarts: 2},
		},
	})
	// This data directory has no region store to read the operator's details
	// from: describe shows the tenant's view, says why, and shows no PID or
	// address. (The e2e tests see the operator's view through a real one.)
	out, errOut := r.must("cluster", "describe", "demo")
	for _, want := range []string{"Reason:", "waiting for etcd-b", "COMPONENT", "etcd-a", "Deletion protection:", "off"} {
		if !strings.Contains(out, want) {
			t.Errorf("describe printed %q, want %q in it", out, want)
		}
	}
	for _, hidden := range []string{"4242", "127.101.64.1", "cell-1"} {
		if strings.Contains(out, hidden) {
			t.Errorf("describe's tenant view shows %q: %s", hidden, out)
		}
	}
	if !strings.Contains(errOut, "showing the tenant's view") {
		t.Errorf("describe did not say why it shows the tenant's view: %q", errOut)
	}
	out, _ = r.must("cluster", "describe", "demo", "--output", "json")
	var desc struct{ Cluster eks.Cluster }
	if err := json.Unmarshal([]byte(out), &desc); err != nil || desc.Cluster.Cellplane == nil || len(desc.Cluster.Cellplane.Components) != 2 {
		t.Errorf("describe -o json = %q (%v)", out, err)
	}

	_, _, err = r.cli.run("cluster", "describe", "nope")
	if !errors.As(err, &apiErr) || apiErr.Type != eks.ResourceNotFoundException {
		t.Errorf("describe of a missing cluster = %v", err)
	}
}

func TestClusterKubeconfig(t *testing.T) {
	r := newRegion(t)
	r.must("cluster", "create", "demo")
	if _, _, err := r.cli.run("cluster", "kubeconfig", "demo", "--admin"); err == nil || !strings.Contains(clikit.UserMessage(err), "not available yet") {
		t.Fatalf("kubeconfig before the cluster is up = %v", err)
	}
	if _, _, err := r.cli.run("cluster", "kubeconfig", "demo"); err == nil || !strings.Contains(clikit.UserMessage(err), "no endpoint yet") {
		t.Fatalf("exec kubeconfig before the cluster is up = %v", err)
	}

	const kc = "apiVersion: v1\nkind: Config\n"
	c := r.stored("demo")
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: c.Namespace, Name: v1alpha1.KubeconfigSecretName(c.Name)},
		Data:       map[string][]byte{v1alpha1.KubeconfigSecretKey: []byte(kc)},
	}
	if err := r.store.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if out, _ := r.must("cluster", "kubeconfig", "demo", "--admin"); out != kc {
		t.Errorf("kubeconfig printed %q", out)
	}
	// --output names a file here, shadowing the table/json flag.
	file := filepath.Join(t.TempDir(), "demo.kubeconfig")
	out, errOut := r.must("cluster", "kubeconfig", "demo", "--admin", "-o", file)
	if out != "" || !strings.Contains(errOut, file) {
		t.Errorf("kubeconfig -o printed %q / %q", out, errOut)
	}
	data, err := os.ReadFile(file)
	if err != nil || string(data) != kc {
		t.Fatalf("kubeconfig file = %q, %v", data, err)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig file mode %v, want 0600: it holds admin credentials", st.Mode().Perm())
	}
}

func TestClusterDelete(t *testing.T) {
	r := newRegion(t)
	r.must("cluster", "create", "demo")
	r.must("cluster", "create", "other")

	out, _ := r.must("cluster", "delete", "other")
	if !strings.Contains(out, "DELETING") {
		t.Errorf("delete printed %q", out)
	}

	done := make(chan error, 1)
	go func() {
		_, errOut, err := r.cli.run("cluster", "delete", "demo", "--wait", "--timeout", "20s")
		if err == nil && !strings.Contains(errOut, "cluster demo deleted") {
			err = errors.New("no deletion message in " + errOut)
		}
		done <- err
	}()
	// The cell's agent releases the region's object once the control plane is gone.
	eventually(t, "deletion to be requested", func() bool {
		c := &v1alpha1.Cluster{}
		return r.store.Get(context.Background(), r.key("demo"), c) == nil && c.DeletionTimestamp != nil
	})
	c := r.stored("demo")
	c.Finalizers = nil
	if err := r.store.Update(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("delete --wait: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("delete --wait did not return")
	}
}

func TestClusterCreateWait(t *testing.T) {
	r := newRegion(t)
	done := make(chan error, 1)
	var stderr string
	go func() {
		var err error
		_, stderr, err = r.cli.run("cluster", "create", "demo", "--wait", "--timeout", "20s")
		done <- err
	}()
	eventually(t, "the cluster to be stored", func() bool {
		return r.store.Get(context.Background(), r.key("demo"), &v1alpha1.Cluster{}) == nil
	})
	r.report("demo", v1alpha1.ClusterStatus{
		Status: v1alpha1.StatusActive, Endpoint: "https://127.101.128.1:6443",
		Components: []v1alpha1.ComponentStatus{{Name: "etcd-a", Ready: true}, {Name: "kube-apiserver-a", Ready: true}},
	})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("create --wait: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("create --wait did not return")
	}
	for _, want := range []string{"creating cluster demo", "ready: etcd-a, kube-apiserver-a", "cluster demo is ACTIVE", "https://127.101.128.1:6443"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("create --wait printed %q, want %q in it", stderr, want)
		}
	}
}

func TestClusterCreateWaitFailed(t *testing.T) {
	r := newRegion(t)
	done := make(chan error, 1)
	go func() {
		_, _, err := r.cli.run("cluster", "create", "demo", "--wait", "--timeout", "20s")
		done <- err
	}()
	eventually(t, "the cluster to be stored", func() bool {
		return r.store.Get(context.Background(), r.key("demo"), &v1alpha1.Cluster{}) == nil
	})
	r.report("demo", v1alpha1.ClusterStatus{Status: v1alpha1.StatusFailed, Reason: "etcd-a: exit status 1"})
	select {
	case err := <-done:
		if err == nil || !strings.Contains(clikit.UserMessage(err), "etcd-a: exit status 1") || clikit.ExitCode(err) != 1 {
			t.Fatalf("create --wait on a FAILED cluster = %v, want the reason", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("create --wait did not return")
	}
}

func TestProgressShowsEachComponentOnce(t *testing.T) {
	var errOut strings.Builder
	p := &progress{g: &globals{clikit.Globals{Stderr: &errOut}}, start: time.Now(), seen: map[string]bool{}}
	cl := func(ready ...string) *eks.Cluster {
		x := &eks.Extension{}
		for _, n := range []string{"etcd-a", "etcd-b", "kube-apiserver-a"} {
			x.Components = append(x.Components, eks.Component{Name: n, Ready: strings.Contains(strings.Join(ready, ","), n)})
		}
		return &eks.Cluster{Cellplane: x}
	}
	p.show(&eks.Cluster{}) // no extension yet
	p.show(cl())
	p.show(cl("etcd-b", "etcd-a"))
	p.show(cl("etcd-a", "etcd-b"))
	p.show(cl("etcd-a", "etcd-b", "kube-apiserver-a"))
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "ready: etcd-a, etcd-b") || !strings.HasSuffix(lines[1], "ready: kube-apiserver-a") {
		t.Fatalf("progress printed %q", errOut.String())
	}
}

func TestListStatusShowsQueuePosition(t *testing.T) {
	queued := &eks.Cluster{Status: "CREATING", Cellplane: &eks.Extension{BringUp: &eks.BringUp{QueuePosition: 2}}}
	admitted := &eks.Cluster{Status: "CREATING", Cellplane: &eks.Extension{BringUp: &eks.BringUp{}}}
	for cl, want := range map[*eks.Cluster]string{queued: "CREATING (queued 2)", admitted: "CREATING", {Status: "ACTIVE"}: "ACTIVE"} {
		if got := listStatus(cl); got != want {
			t.Errorf("listStatus = %q, want %q", got, want)
		}
	}
}

package store

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

func TestLoadCRDs(t *testing.T) {
	crds, err := loadCRDs()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*apiextensionsv1.CustomResourceDefinition{}
	for _, c := range crds {
		byName[c.Name] = c
	}
	crd := byName["clusters.cellplane.io"]
	if crd == nil {
		t.Fatalf("no clusters.cellplane.io among %d CRDs", len(crds))
	}
	gv := v1alpha1.GroupVersion
	if crd.Spec.Group != gv.Group || crd.Spec.Names.Kind != "Cluster" || crd.Spec.Scope != apiextensionsv1.NamespaceScoped {
		t.Errorf("CRD = group %s kind %s scope %s", crd.Spec.Group, crd.Spec.Names.Kind, crd.Spec.Scope)
	}
	var served *apiextensionsv1.CustomResourceDefinitionVersion
	for i, v := range crd.Spec.Versions {
		if v.Name == gv.Version {
			served = &crd.Spec.Versions[i]
		}
	}
	if served == nil || !served.Served || !served.Storage {
		t.Fatalf("version %s is not served and stored: %+v", gv.Version, served)
	}
	// The controllers write status through the subresource; without it their
	// patches would be silently dropped.
	if served.Subresources == nil || served.Subresources.Status == nil {
		t.Error("no status subresource")
	}
	if served.Schema == nil || served.Schema.OpenAPIV3Schema == nil || served.Schema.OpenAPIV3Schema.Properties["status"].Properties["slot"].Type == "" {
		t.Error("schema lacks status.slot")
	}
}

// testStore is a store whose files are named, not issued.
func testStore(t *testing.T) *Store {
	t.Helper()
	dir := t.TempDir()
	ip := net.IPv4(127, 101, 0, 1).To4()
	f, err := ensurePKI(filepath.Join(dir, "pki"), ip)
	if err != nil {
		t.Fatal(err)
	}
	return &Store{
		cfg: Config{
			Name: "cell-1", Dir: dir, IP: ip,
			Etcd: "/cache/etcd/etcd", APIServer: "/cache/kubernetes/kube-apiserver",
		},
		files: f,
	}
}

func flagMap(t *testing.T, args []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, a := range args {
		name, value, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if _, dup := out[name]; dup {
			t.Fatalf("flag %s given twice", name)
		}
		out[name] = value
	}
	return out
}

func TestEtcdSpec(t *testing.T) {
	s := testStore(t)
	spec := s.etcdSpec()
	if spec.Path != "/cache/etcd/etcd" || spec.ID != "cell-1/etcd" || spec.Name != "etcd" || spec.StateDir != filepath.Join(s.cfg.Dir, "logs") {
		t.Errorf("spec = %+v", spec)
	}
	f := flagMap(t, spec.Args)
	// A single member on the store's own address, mutual TLS on clients and
	// peers: nothing in plain http.
	for name, want := range map[string]string{
		"name":                        "cell-1",
		"listen-client-urls":          "https://127.101.0.1:2379",
		"advertise-client-urls":       "https://127.101.0.1:2379",
		"listen-peer-urls":            "https://127.101.0.1:2380",
		"initial-advertise-peer-urls": "https://127.101.0.1:2380",
		"initial-cluster":             "cell-1=https://127.101.0.1:2380",
		"data-dir":                    filepath.Join(s.cfg.Dir, "etcd"),
		"client-cert-auth":            "true",
		"peer-client-cert-auth":       "true",
		"trusted-ca-file":             s.files.etcdCA,
		"peer-trusted-ca-file":        s.files.etcdCA,
		"cert-file":                   s.files.etcdServerCert,
		"peer-cert-file":              s.files.etcdPeerCert,
	} {
		if f[name] != want {
			t.Errorf("--%s = %q, want %q", name, f[name], want)
		}
	}
	if f["initial-cluster-token"] == "" {
		t.Error("no --initial-cluster-token")
	}
}

func TestAPIServerSpec(t *testing.T) {
	s := testStore(t)
	spec := s.apiServerSpec()
	if spec.Path != "/cache/kubernetes/kube-apiserver" || spec.ID != "cell-1/kube-apiserver" || spec.Name != "kube-apiserver" {
		t.Errorf("spec = %+v", spec)
	}
	f := flagMap(t, spec.Args)
	for name, want := range map[string]string{
		"etcd-servers":                     "https://127.101.0.1:2379",
		"etcd-cafile":                      s.files.etcdCA,
		"etcd-certfile":                    s.files.etcdClientCert,
		"etcd-keyfile":                     s.files.etcdClientKey,
		"encryption-provider-config":       s.files.encryption,
		"bind-address":                     "127.101.0.1",
		"advertise-address":                "127.101.0.1",
		"secure-port":                      "6443",
		"authorization-mode":               "RBAC",
		"endpoint-reconciler-type":         "none",
		"tls-cert-file":                    s.files.serverCert,
		"tls-private-key-file":             s.files.serverKey,
		"client-ca-file":                   s.files.ca,
		"service-account-key-file":         s.files.saPub,
		"service-account-signing-key-file": s.files.saKey,
		"service-account-issuer":           "https://127.101.0.1:6443",
	} {
		if f[name] != want {
			t.Errorf("--%s = %q, want %q", name, f[name], want)
		}
	}
	if got := s.restConfig(); got.Host != "https://127.101.0.1:6443" || got.CAFile != s.files.ca || got.CertFile != s.files.adminCert || got.KeyFile != s.files.adminKey {
		t.Errorf("rest config = %+v", got)
	}
}

func TestSpecsAreStable(t *testing.T) {
	// A restarted cellplane adopts the running store only if the specs match.
	a, b := testStore(t), testStore(t)
	b.cfg.Dir, b.files = a.cfg.Dir, a.files
	if strings.Join(a.etcdSpec().Args, " ") != strings.Join(b.etcdSpec().Args, " ") ||
		strings.Join(a.apiServerSpec().Args, " ") != strings.Join(b.apiServerSpec().Args, " ") {
		t.Fatal("the same config gives different specs")
	}
}

type recordingRunner struct {
	mu      sync.Mutex
	stopped []string
	err     error
}

func (r *recordingRunner) Ensure(context.Context, process.Spec) (process.Status, error) {
	return process.Status{}, errors.New("not expected")
}

func (r *recordingRunner) Stop(_ context.Context, s process.Spec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = append(r.stopped, s.Name)
	return r.err
}

func TestStopOrder(t *testing.T) {
	s := testStore(t)
	run := &recordingRunner{}
	s.cfg.Runner = run
	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The API server first, so no write is cut off by etcd going away.
	if got := strings.Join(run.stopped, ","); got != "kube-apiserver,etcd" {
		t.Fatalf("stopped %s, want kube-apiserver,etcd", got)
	}

	run.stopped, run.err = nil, errors.New("boom")
	if err := s.Stop(context.Background()); !errors.Is(err, run.err) || !strings.Contains(err.Error(), "cell-1") {
		t.Fatalf("Stop = %v, want the failure naming the store", err)
	}
	if len(run.stopped) != 1 {
		t.Fatalf("stopped %v after the API server failed to stop", run.stopped)
	}
}

func TestEnsurePKI(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	ip := net.IPv4(127, 101, 0, 1).To4()
	f, err := ensurePKI(dir, ip)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{f.ca, f.serverCert, f.serverKey, f.adminCert, f.adminKey, f.saKey, f.saPub} {
		if filepath.Dir(p) != dir {
			t.Errorf("%s is not in %s", p, dir)
		}
		if _, err := os.Stat(p); err != nil {
			t.Errorf("missing: %v", err)
		}
	}
	before, _ := os.ReadFile(f.ca)
	again, err := ensurePKI(dir, ip)
	if err != nil || again != f {
		t.Fatalf("second ensurePKI = %+v, %v", again, err)
	}
	if after, _ := os.ReadFile(f.ca); string(after) != string(before) {
		t.Error("a second start reissued the store CA")
	}
}

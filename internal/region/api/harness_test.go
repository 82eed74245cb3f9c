package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/sigv4"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

// harness serves the API over httptest on the real management store, every
// request acting for an account of the harness's own: a test sees only its own
// clusters and namespace, as a tenant would.
type harness struct {
	t       *testing.T
	store   client.Client
	account string
	url     string
	logs    *syncBuffer
	hasNS   bool // the account's namespace exists
}

// harnessSetup is what options change before the handler is built.
type harnessSetup struct {
	cfg      Config
	funcs    *interceptor.Funcs
	unsigned bool
}

type harnessOption func(*harnessSetup)

// withPlacer replaces the default StaticPlacer.
func withPlacer(p Placer) harnessOption {
	return func(s *harnessSetup) { s.cfg.Placer = p }
}

// unsigned sends requests without an account, as a server without a SigV4
// verifier sees them: they act for the default account, which only one test
// of the binary may use.
func unsigned() harnessOption {
	return func(s *harnessSetup) { s.unsigned = true }
}

// withInterceptor injects store failures.
func withInterceptor(f interceptor.Funcs) harnessOption {
	return func(s *harnessSetup) { s.funcs = &f }
}

func newHarness(t *testing.T, opts ...harnessOption) *harness {
	t.Helper()
	logs := &syncBuffer{}
	setup := harnessSetup{cfg: Config{Placer: StaticPlacer{Cell: "cell-1"}, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}}
	for _, o := range opts {
		o(&setup)
	}
	store := env.Client(t)
	if setup.funcs != nil {
		store = interceptor.NewClient(store, *setup.funcs)
	}
	setup.cfg.Client = store
	h, err := NewHandler(setup.cfg)
	if err != nil {
		t.Fatal(err)
	}
	account := v1alpha1.DefaultAccount
	if !setup.unsigned {
		account = env.Account()
		h = asAccount(h, account)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &harness{t: t, store: store, account: account, url: srv.URL, logs: logs}
}

// asAccount makes every request act for account, as the SigV4 verifier does
// for a signed one.
func asAccount(h http.Handler, account string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(sigv4.WithAccount(r.Context(), account)))
	})
}

// namespace is where the harness's account keeps its clusters.
func (h *harness) namespace() string { return v1alpha1.Namespace(h.account) }

// response is one answer of the API.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request; body is sent as is when it is a string, as JSON otherwise.
func (h *harness) do(method, path string, body any) response {
	h.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		r = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, h.url+path, r)
	if err != nil {
		h.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// cluster decodes a {"cluster": ...} answer, failing unless it is a 200.
func (r response) cluster(t *testing.T) *eks.Cluster {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var out eks.ClusterOutput
	if err := json.Unmarshal(r.body, &out); err != nil || out.Cluster == nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
	return out.Cluster
}

// wantError checks an EKS error answer: status, type in header and body, and a
// message containing msg.
func (r response) wantError(t *testing.T, status int, typ, msg string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if got := r.header.Get("X-Amzn-ErrorType"); got != typ {
		t.Fatalf("X-Amzn-ErrorType %q, want %q", got, typ)
	}
	var body map[string]string
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("error body %s: %v", r.body, err)
	}
	if body["__type"] != typ {
		t.Fatalf("__type %q, want %q", body["__type"], typ)
	}
	if !strings.Contains(body["message"], msg) {
		t.Fatalf("message %q does not contain %q", body["message"], msg)
	}
}

// create creates a cluster through the API and returns it.
func (h *harness) create(in eks.CreateClusterInput) *eks.Cluster {
	h.t.Helper()
	return h.do("POST", "/clusters", in).cluster(h.t)
}

// stored returns the stored object of a cluster of the harness's account.
func (h *harness) stored(name string) *v1alpha1.Cluster {
	h.t.Helper()
	var c v1alpha1.Cluster
	key := client.ObjectKey{Namespace: h.namespace(), Name: v1alpha1.ObjectName(name)}
	if err := h.store.Get(context.Background(), key, &c); err != nil {
		h.t.Fatalf("getting stored cluster %s: %v", name, err)
	}
	return &c
}

// count returns how many Cluster objects and Namespaces the harness's account
// has in the store: all the store holds of the test's making.
func (h *harness) count() (clusters, namespaces int) {
	h.t.Helper()
	var cl v1alpha1.ClusterList
	if err := h.store.List(context.Background(), &cl, client.InNamespace(h.namespace())); err != nil {
		h.t.Fatal(err)
	}
	err := h.store.Get(context.Background(), client.ObjectKey{Name: h.namespace()}, &corev1.Namespace{})
	if err == nil {
		namespaces = 1
	} else if !apierrors.IsNotFound(err) {
		h.t.Fatal(err)
	}
	return len(cl.Items), namespaces
}

// seed stores a cluster directly, without the API, creating the account's
// namespace first as the API does with an account's first cluster: a real store
// refuses objects in a namespace that does not exist.
func (h *harness) seed(name string) *v1alpha1.Cluster {
	h.t.Helper()
	h.ensureNamespace()
	c := &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{
			Name:       v1alpha1.ObjectName(name),
			Namespace:  h.namespace(),
			Labels:     map[string]string{v1alpha1.LabelAccount: h.account},
			Finalizers: []string{v1alpha1.RegionFinalizer},
		},
		Spec: v1alpha1.ClusterSpec{Name: name, Version: "1.35", Cell: "cell-1"},
	}
	if err := h.store.Create(context.Background(), c); err != nil {
		h.t.Fatal(err)
	}
	return c
}

// ensureNamespace creates the account's namespace, once per harness.
func (h *harness) ensureNamespace() {
	h.t.Helper()
	if h.hasNS {
		return
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: h.namespace(), Labels: map[string]string{v1alpha1.LabelAccount: h.account}}}
	if err := h.store.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		h.t.Fatal(err)
	}
	h.hasNS = true
}

// pushStatus writes a status as a cell agent would.
func (h *harness) pushStatus(name string, st v1alpha1.ClusterStatus) {
	h.t.Helper()
	c := h.stored(name)
	c.Status = st
	if err := h.store.Status().Update(context.Background(), c); err != nil {
		h.t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// errPlacer fails every placement.
type errPlacer struct{ err error }

func (p errPlacer) Place(context.Context, *v1alpha1.Cluster) (string, func(), error) {
	return "", nil, p.err
}

var errStoreDown = errors.New("dial tcp 10.1.2.3:6443: connection refused")

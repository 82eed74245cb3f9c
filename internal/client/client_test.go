package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	crclient "sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/region/api"
	"github.com/cellplane/cellplane/internal/sigv4"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

// region is the real regional API over the real management store, and a client
// of it. Each region serves an account of its own, so a test lists only its
// own clusters.
type region struct {
	t       *testing.T
	store   crclient.Client
	account string
	client  *Client
	// requests counts requests the server received.
	requests atomic.Int64
	// failNext makes the next n requests fail with 503, as a restarting region would.
	failNext atomic.Int64
}

func newRegion(t *testing.T) *region {
	t.Helper()
	r := &region{t: t, store: env.Client(t), account: env.Account()}
	h, err := api.NewHandler(api.Config{Client: r.store, Placer: api.StaticPlacer{Cell: "cell-1"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		if r.failNext.Add(-1) >= 0 {
			http.Error(w, "<html>502 Bad Gateway</html>", http.StatusServiceUnavailable)
			return
		}
		// Every request acts for the region's account, as a verified signature would make it.
		h.ServeHTTP(w, req.WithContext(sigv4.WithAccount(req.Context(), r.account)))
	}))
	t.Cleanup(srv.Close)
	r.client = New(srv.URL+"/", srv.Client())
	return r
}

// namespace is where the region's account keeps its clusters.
func (r *region) namespace() string { return v1alpha1.Namespace(r.account) }

// stored returns the stored object of a cluster.
func (r *region) stored(name string) *v1alpha1.Cluster {
	r.t.Helper()
	var c v1alpha1.Cluster
	key := crclient.ObjectKey{Namespace: r.namespace(), Name: v1alpha1.ObjectName(name)}
	if err := r.store.Get(context.Background(), key, &c); err != nil {
		r.t.Fatalf("getting cluster %s: %v", name, err)
	}
	return &c
}

// pushStatus writes a status as a cell agent would.
func (r *region) pushStatus(name string, st v1alpha1.ClusterStatus) {
	r.t.Helper()
	c := r.stored(name)
	c.Status = st
	if err := r.store.Status().Update(context.Background(), c); err != nil {
		r.t.Fatal(err)
	}
}

// release removes the region finalizer, as the agent does once the cell let go.
func (r *region) release(name string) {
	r.t.Helper()
	c := r.stored(name)
	c.Finalizers = nil
	if err := r.store.Update(context.Background(), c); err != nil {
		r.t.Fatal(err)
	}
}

func TestClusterLifecycle(t *testing.T) {
	ctx := t.Context()
	r := newRegion(t)
	c := r.client

	created, err := c.CreateCluster(ctx, CreateClusterInput{Name: "demo", Version: "1.35", Tags: map[string]string{"team": "a"}, ClientRequestToken: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	if created.Name != "demo" || created.Status != eks.StatusCreating || created.Tags["team"] != "a" || created.Cellplane == nil || created.Cellplane.Cell != "" {
		t.Fatalf("created %+v", created)
	}
	retried, err := c.CreateCluster(ctx, CreateClusterInput{Name: "demo", Version: "1.35", Tags: map[string]string{"team": "a"}, ClientRequestToken: "tok"})
	if err != nil || retried.Arn != created.Arn {
		t.Fatalf("idempotent retry: %+v, %v", retried, err)
	}

	described, err := c.DescribeCluster(ctx, "demo")
	if err != nil || described.Arn != created.Arn {
		t.Fatalf("describe: %+v, %v", described, err)
	}
	names, next, err := c.ListClusters(ctx, 0, "")
	if err != nil || !slices.Equal(names, []string{"demo"}) || next != "" {
		t.Fatalf("list: %v %q %v", names, next, err)
	}

	if _, err := c.Kubeconfig(ctx, "demo"); !errors.Is(err, errdefs.ErrNotFound) || !strings.Contains(err.Error(), "not available yet: the cluster is CREATING") {
		t.Fatalf("kubeconfig before ACTIVE: %v", err)
	}
	writeKubeconfig(t, r, "demo", "apiVersion: v1\n")
	if kc, err := c.Kubeconfig(ctx, "demo"); err != nil || string(kc) != "apiVersion: v1\n" {
		t.Fatalf("kubeconfig: %q, %v", kc, err)
	}

	deleted, err := c.DeleteCluster(ctx, "demo")
	if err != nil || deleted.Status != eks.StatusDeleting {
		t.Fatalf("delete: %+v, %v", deleted, err)
	}
}

func writeKubeconfig(t *testing.T, r *region, name, data string) {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.KubeconfigSecretName(v1alpha1.ObjectName(name)), Namespace: r.namespace()},
		Data:       map[string][]byte{v1alpha1.KubeconfigSecretKey: []byte(data)},
	}
	if err := r.store.Create(context.Background(), s); err != nil {
		t.Fatal(err)
	}
}

func TestErrorsAreTyped(t *testing.T) {
	ctx := t.Context()
	r := newRegion(t)
	c := r.client
	if _, err := c.CreateCluster(ctx, CreateClusterInput{Name: "taken"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		call     func() error
		sentinel error
		typ      string
		status   int
		text     string
	}{
		{"describe unknown", func() error { _, err := c.DescribeCluster(ctx, "nope"); return err },
			errdefs.ErrNotFound, eks.ResourceNotFoundException, 404, "describing cluster nope: ResourceNotFoundException: No cluster found for name: nope."},
		{"delete unknown", func() error { _, err := c.DeleteCluster(ctx, "nope"); return err },
			errdefs.ErrNotFound, eks.ResourceNotFoundException, 404, "deleting cluster nope"},
		{"kubeconfig unknown", func() error { _, err := c.Kubeconfig(ctx, "nope"); return err },
			errdefs.ErrNotFound, eks.ResourceNotFoundException, 404, "No cluster found for name: nope."},
		{"duplicate", func() error { _, err := c.CreateCluster(ctx, CreateClusterInput{Name: "taken"}); return err },
			errdefs.ErrAlreadyExists, eks.ResourceInUseException, 409, "Cluster already exists with name: taken"},
		{"bad name", func() error { _, err := c.CreateCluster(ctx, CreateClusterInput{Name: "no spaces"}); return err },
			errdefs.ErrInvalidParameter, eks.InvalidParameterException, 400, "is not valid"},
		{"bad version", func() error {
			_, err := c.CreateCluster(ctx, CreateClusterInput{Name: "v", Version: "0.1"})
			return err
		},
			errdefs.ErrInvalidParameter, eks.InvalidParameterException, 400, "is not supported"},
		{"bad maxResults", func() error { _, _, err := c.ListClusters(ctx, 101, ""); return err },
			errdefs.ErrInvalidParameter, eks.InvalidParameterException, 400, "maxResults"},
		{"bad nextToken", func() error { _, _, err := c.ListClusters(ctx, 10, "garbage"); return err },
			errdefs.ErrInvalidParameter, eks.InvalidParameterException, 400, "nextToken"},
		// Names travel escaped: a slash cannot reach another path.
		{"name with slash", func() error { _, err := c.DescribeCluster(ctx, "a/b"); return err },
			errdefs.ErrNotFound, eks.ResourceNotFoundException, 404, "No cluster found for name: a/b."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var apiErr *eks.APIError
			if !errors.Is(err, tc.sentinel) || !errors.As(err, &apiErr) {
				t.Fatalf("error %v does not match %v", err, tc.sentinel)
			}
			if apiErr.Type != tc.typ || apiErr.Status != tc.status || !strings.Contains(err.Error(), tc.text) {
				t.Fatalf("error %v: type %s status %d", err, apiErr.Type, apiErr.Status)
			}
		})
	}
}

func TestListAllClusters(t *testing.T) {
	r := newRegion(t)
	// The API creates an account's namespace with its first cluster; these
	// clusters skip the API, so the test creates it as the API would.
	env.Create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: r.namespace(),
		Labels: map[string]string{v1alpha1.LabelAccount: r.account}}})
	var want []string
	// A few creates at a time: one after another, 250 round trips to a real
	// store take seconds under -race.
	var g errgroup.Group
	g.SetLimit(8)
	for i := range 250 {
		name := fmt.Sprintf("c%03d", i)
		want = append(want, name)
		c := &v1alpha1.Cluster{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: r.namespace(),
				Labels: map[string]string{v1alpha1.LabelAccount: r.account}},
			Spec: v1alpha1.ClusterSpec{Name: name, Version: "1.35"},
		}
		g.Go(func() error { return r.store.Create(context.Background(), c) })
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	before := r.requests.Load()
	got, err := r.client.ListAllClusters(t.Context())
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("ListAllClusters: %d names, %v", len(got), err)
	}
	if pages := r.requests.Load() - before; pages != 3 {
		t.Fatalf("%d pages, want 3 of at most 100", pages)
	}
}

// Errors that did not come from the regional API still become APIErrors, and
// AWS-style decorated types are cut to the bare name.
func TestDecodeForeignErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		typ     string
		status  int
		msg     string
	}{
		{"proxy page", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
		}, eks.ServerException, 502, "<html>bad gateway</html>"},
		{"decorated header", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException:http://internal.amazon.com/coral/com.amazonaws.eks/")
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"message":"gone"}`))
		}, eks.ResourceNotFoundException, 404, "gone"},
		{"body code only", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(400)
			_, _ = w.Write([]byte(`{"code":"com.amazonaws.eks#InvalidParameterException","message":"bad"}`))
		}, eks.InvalidParameterException, 400, "bad"},
		{"empty body", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(403) }, eks.ClientException, 403, "Forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			_, err := New(srv.URL, nil).DescribeCluster(t.Context(), "x")
			var apiErr *eks.APIError
			if !errors.As(err, &apiErr) || apiErr.Type != tc.typ || apiErr.Status != tc.status || apiErr.Message != tc.msg {
				t.Fatalf("got %#v from %v", apiErr, err)
			}
		})
	}
}

func TestTransportErrorIsWrapped(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	_, err := New(srv.URL, nil).DescribeCluster(t.Context(), "x")
	var apiErr *eks.APIError
	if err == nil || errors.As(err, &apiErr) || !strings.HasPrefix(err.Error(), "describing cluster x: ") {
		t.Fatalf("got %v", err)
	}
}

package apihealth

import (
	"context"
	"encoding/base64"
	"encoding/pem"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

// The prober counts answers of a real TLS server as a cluster's endpoint:
// 200s as requests with latency, anything else as errors; it probes only
// ACTIVE clusters and forgets those no longer ACTIVE.
func TestProberCounts(t *testing.T) {
	var failing atomic.Bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" || failing.Load() {
			http.Error(w, "not ready", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	ca := base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	ns := env.Namespace(t)
	active := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "up"}, Spec: v1alpha1.ClusterSpec{Name: "up", Version: "1.37"},
		Status: v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive, Endpoint: srv.URL, CertificateAuthorityData: ca}}
	creating := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "new"}, Spec: v1alpha1.ClusterSpec{Name: "new", Version: "1.37"},
		Status: v1alpha1.ClusterStatus{Status: v1alpha1.StatusCreating, Endpoint: srv.URL, CertificateAuthorityData: ca}}
	env.CreateWithStatus(t, active)
	env.CreateWithStatus(t, creating)
	p := &Prober{Cell: env.Client(t), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ctx := context.Background()
	round := func() v1alpha1.ClusterAPIHealth {
		t.Helper()
		if err := p.Round(ctx); err != nil {
			t.Fatal(err)
		}
		for _, h := range p.Snapshot() {
			if h.Cluster == ns+"/new" {
				t.Fatal("a CREATING cluster was probed")
			}
			if h.Cluster == ns+"/up" {
				return h
			}
		}
		return v1alpha1.ClusterAPIHealth{}
	}
	round()
	if h := round(); h.Requests != 2 || h.Errors != 0 {
		t.Fatalf("after two good probes: %+v", h)
	}
	failing.Store(true)
	if h := round(); h.Requests != 3 || h.Errors != 1 {
		t.Fatalf("after a failed probe: %+v", h)
	}
	active.Status.Status = v1alpha1.StatusDeleting
	if err := env.Client(t).Status().Update(ctx, active); err != nil {
		t.Fatal(err)
	}
	if h := round(); h.Requests != 0 {
		t.Fatalf("a cluster no longer ACTIVE is still counted: %+v", h)
	}
}

package store

import (
	"context"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"
)

// readyServer answers /readyz with 503 until it has been asked notReady times,
// and reports every request on the returned channel.
func readyServer(t *testing.T, notReady int) (*rest.Config, <-chan struct{}) {
	t.Helper()
	asked := make(chan struct{}, 1024)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		select {
		case asked <- struct{}{}:
		default:
		}
		if notReady > 0 {
			notReady--
			http.Error(w, "etcd not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok"))
	}))
	srv.Config.SetKeepAlivesEnabled(false)
	t.Cleanup(srv.Close)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	return &rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{CAData: ca}}, asked
}

func TestWaitReady(t *testing.T) {
	cfg, asked := readyServer(t, 2)
	if err := waitReady(context.Background(), cfg, "/logs", time.Minute); err != nil {
		t.Fatal(err)
	}
	if n := len(asked); n != 3 {
		t.Fatalf("asked /readyz %d times, want 3", n)
	}
}

func TestWaitReadyGivesUp(t *testing.T) {
	cfg, asked := readyServer(t, 1<<30)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- waitReady(ctx, cfg, "/data/cells/cell-1/store/logs", time.Hour) }()
	deadline := time.After(10 * time.Second)
	for range 2 {
		select {
		case <-asked:
		case err := <-errc:
			t.Fatalf("waitReady returned before giving up: %v", err)
		case <-deadline:
			t.Fatal("waitReady did not poll /readyz")
		}
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) || errors.Is(err, ErrNotReady) {
		t.Fatalf("waitReady after cancel = %v, want context.Canceled, not a timeout", err)
	}
	// Given up by its own deadline, it blames the server and points at the logs.
	err := waitReady(context.Background(), cfg, "/data/cells/cell-1/store/logs", 300*time.Millisecond)
	if !errors.Is(err, ErrNotReady) || !strings.Contains(err.Error(), "/data/cells/cell-1/store/logs") || !strings.Contains(err.Error(), "503") {
		t.Fatalf("waitReady after its timeout = %v, want ErrNotReady naming the last answer and the logs", err)
	}
}

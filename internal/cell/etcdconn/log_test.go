package etcdconn

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/zapslog"
)

// syncBuffer is a log the client's goroutines write while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// What an etcd client has to say about a cluster it cannot reach (its
// retries failing) reaches the cell's log, named by cluster, instead of
// being dropped.
func TestClientWarningsReachTheCellLog(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	pl := New(zapslog.New(log))
	t.Cleanup(pl.Close)
	p := testPlan(t, "quiet", "uid-quiet")
	c, err := pl.Get(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if _, err := c.Revision(ctx); err == nil {
		t.Fatal("reading the revision of an etcd that does not run succeeded")
	}
	got := buf.String()
	if !strings.Contains(got, "level=WARN") || !strings.Contains(got, "cluster="+p.ID()) {
		t.Fatalf("the cell's log has no warning of the etcd client naming the cluster:\n%s", got)
	}
}

package keycache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/poll"
	"github.com/cellplane/cellplane/internal/sigv4"
)

// countingKeys is a sigv4.StaticKeys that counts its lookups.
type countingKeys struct {
	keys  sigv4.StaticKeys
	reads atomic.Int64
}

func (c *countingKeys) Lookup(ctx context.Context, akid string) (sigv4.Credentials, error) {
	c.reads.Add(1)
	return c.keys.Lookup(ctx, akid)
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var alice = sigv4.Credentials{AccessKeyID: "CPAKALICEALICEALICE0", SecretAccessKey: "s", Account: "111111111111"}

func newTestCache(max int) (*Cache, *countingKeys, *clock) {
	store := &countingKeys{keys: sigv4.StaticKeys{alice.AccessKeyID: alice}}
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	return New(Config{Store: store, TTL: time.Minute, NegativeTTL: time.Minute, MaxEntries: max, Now: clk.Now}), store, clk
}

func TestCacheRemembersBothAnswers(t *testing.T) {
	c, store, clk := newTestCache(10)
	ctx := context.Background()
	for range 100 {
		if creds, err := c.Lookup(ctx, alice.AccessKeyID); err != nil || creds != alice {
			t.Fatalf("Lookup(alice) = %+v, %v", creds, err)
		}
		if _, err := c.Lookup(ctx, "CPAKUNKNOWNUNKNOWN00"); !errors.Is(err, sigv4.ErrUnknownKey) {
			t.Fatalf("Lookup(unknown) = %v; want ErrUnknownKey", err)
		}
	}
	if n := store.reads.Load(); n != 2 {
		t.Fatalf("store reads = %d; want 2 (one per key)", n)
	}
	clk.add(time.Minute)
	_, _ = c.Lookup(ctx, alice.AccessKeyID)
	_, _ = c.Lookup(ctx, "CPAKUNKNOWNUNKNOWN00")
	if n := store.reads.Load(); n != 4 {
		t.Fatalf("store reads after the TTL = %d; want 4", n)
	}
}

func TestCacheInvalidate(t *testing.T) {
	c, store, _ := newTestCache(10)
	ctx := context.Background()
	_, _ = c.Lookup(ctx, alice.AccessKeyID)
	delete(store.keys, alice.AccessKeyID) // deactivated in the store...
	c.Invalidate(alice.AccessKeyID)       // ...and the watch said so
	if _, err := c.Lookup(ctx, alice.AccessKeyID); !errors.Is(err, sigv4.ErrUnknownKey) {
		t.Fatalf("Lookup after invalidate = %v; want ErrUnknownKey", err)
	}
	store.keys[alice.AccessKeyID] = alice
	c.Purge()
	if _, err := c.Lookup(ctx, alice.AccessKeyID); err != nil {
		t.Fatalf("Lookup after purge = %v", err)
	}
}

// A flood of distinct made-up keys keeps the maps at their bound.
func TestCacheIsBounded(t *testing.T) {
	c, store, _ := newTestCache(100)
	ctx := context.Background()
	for i := range 1000 {
		_, _ = c.Lookup(ctx, fmt.Sprintf("CPAKUNKNOWN%09d", i))
	}
	if s := c.Stats(); s.Unknown != 100 || s.StoreReads != 1000 || store.reads.Load() != 1000 {
		t.Fatalf("stats = %+v, store reads %d; want 100 unknown, 1000 reads", s, store.reads.Load())
	}
	// The most recent stay; the oldest went.
	before := store.reads.Load()
	_, _ = c.Lookup(ctx, fmt.Sprintf("CPAKUNKNOWN%09d", 999))
	_, _ = c.Lookup(ctx, fmt.Sprintf("CPAKUNKNOWN%09d", 0))
	if n := store.reads.Load() - before; n != 1 {
		t.Fatalf("store reads = %d; want 1 (the evicted key only)", n)
	}
}

// Store failures are not remembered: the next request tries again.
func TestCacheForgetsFailures(t *testing.T) {
	boom := errors.New("store down")
	fails := &failing{err: boom}
	c := New(Config{Store: fails})
	for range 3 {
		if _, err := c.Lookup(context.Background(), alice.AccessKeyID); !errors.Is(err, boom) {
			t.Fatalf("Lookup = %v; want %v", err, boom)
		}
	}
	if fails.n.Load() != 3 {
		t.Fatalf("store reads = %d; want 3", fails.n.Load())
	}
}

type failing struct {
	err error
	n   atomic.Int64
}

func (f *failing) Lookup(context.Context, string) (sigv4.Credentials, error) {
	f.n.Add(1)
	return sigv4.Credentials{}, f.err
}

// Concurrent misses of one key share one store read.
func TestCacheCoalescesMisses(t *testing.T) {
	gate := make(chan struct{})
	slow := &gated{gate: gate, creds: alice}
	c := New(Config{Store: slow})
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() { _, _ = c.Lookup(context.Background(), alice.AccessKeyID) })
	}
	err := poll.Until(t.Context(), 10*time.Second, time.Millisecond, func() error {
		if slow.n.Load() == 0 {
			return errors.New("no lookup reached the store yet")
		}
		return nil
	})
	close(gate)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if n := slow.n.Load(); n != 1 {
		t.Fatalf("store reads = %d for 50 concurrent lookups of one key", n)
	}
}

type gated struct {
	gate  chan struct{}
	creds sigv4.Credentials
	n     atomic.Int64
}

func (g *gated) Lookup(context.Context, string) (sigv4.Credentials, error) {
	g.n.Add(1)
	<-g.gate
	return g.creds, nil
}

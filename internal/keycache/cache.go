package keycache

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/cellplane/cellplane/internal/sigv4"
)

// Defaults of Config.
const (
	// DefaultTTL is how long a verified key is trusted without a store read.
	// The watch makes a change take effect at once; the TTL only bounds how
	// long a change the watch missed can go unseen.
	DefaultTTL = 30 * time.Second
	// DefaultNegativeTTL is how long an unknown key is refused without a
	// store read. A key created meanwhile clears it through the watch, so the
	// TTL only bounds memory, which the LRU bounds too.
	DefaultNegativeTTL = 5 * time.Minute
	// DefaultMaxEntries bounds each of the two maps. A few hundred bytes an
	// entry: a few megabytes at most, however many keys a flood makes up.
	DefaultMaxEntries = 10_000
)

// Config configures a Cache; zero values take the defaults above.
type Config struct {
	// Store is what the cache answers for; it is read on a miss.
	Store       sigv4.KeyStore
	TTL         time.Duration
	NegativeTTL time.Duration
	MaxEntries  int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Cache is a sigv4.KeyStore that remembers another's answers. Safe for
// concurrent use.
type Cache struct {
	cfg    Config
	flight singleflight.Group

	mu      sync.Mutex
	known   *lru[sigv4.Credentials]
	unknown *lru[error]
	// reading holds the keys being read from the store, true once one was
	// invalidated meanwhile: that read may predate the change, so its
	// answer is returned but not remembered.
	reading  map[string]bool
	storeHit uint64
}

var _ sigv4.KeyStore = (*Cache)(nil)

// New returns an empty cache in front of cfg.Store.
func New(cfg Config) *Cache {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = DefaultNegativeTTL
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Cache{cfg: cfg, known: newLRU[sigv4.Credentials](cfg.MaxEntries), unknown: newLRU[error](cfg.MaxEntries), reading: map[string]bool{}}
}

// Lookup implements sigv4.KeyStore: from memory when it can, else from the
// store, one read per key however many requests wait for it. Store failures
// other than an unknown key are not remembered.
func (c *Cache) Lookup(ctx context.Context, akid string) (sigv4.Credentials, error) {
	if creds, err, ok := c.cached(akid); ok {
		return creds, err
	}
	v, err, _ := c.flight.Do(akid, func() (any, error) {
		if creds, err, ok := c.cached(akid); ok {
			return creds, err
		}
		c.startRead(akid)
		creds, err := c.cfg.Store.Lookup(ctx, akid)
		c.remember(akid, creds, err)
		return creds, err
	})
	creds, _ := v.(sigv4.Credentials)
	return creds, err
}

func (c *Cache) cached(akid string) (sigv4.Credentials, error, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	if creds, ok := c.known.get(akid, now); ok {
		return creds, nil, true
	}
	if err, ok := c.unknown.get(akid, now); ok {
		return sigv4.Credentials{}, err, true
	}
	return sigv4.Credentials{}, nil, false
}

// startRead notes that akid is being read; the flight makes it the only read.
func (c *Cache) startRead(akid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.storeHit++
	c.reading[akid] = false
}

// remember caches a store answer unless the key changed while it was read.
func (c *Cache) remember(akid string, creds sigv4.Credentials, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	changed := c.reading[akid]
	delete(c.reading, akid)
	if changed {
		return
	}
	now := c.cfg.Now()
	switch {
	case err == nil:
		c.known.put(akid, creds, now.Add(c.cfg.TTL))
	case errors.Is(err, sigv4.ErrUnknownKey):
		c.unknown.put(akid, fmt.Errorf("access key %s (remembered as unknown): %w", akid, sigv4.ErrUnknownKey), now.Add(c.cfg.NegativeTTL))
	}
}

// Invalidate forgets what the cache knows of akid: its object was created,
// changed or deleted.
func (c *Cache) Invalidate(akid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.reading[akid]; ok {
		c.reading[akid] = true
	}
	c.known.remove(akid)
	c.unknown.remove(akid)
}

// Purge forgets everything, for when changes may have been missed (the watch
// that calls Invalidate broke).
func (c *Cache) Purge() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.reading {
		c.reading[k] = true
	}
	c.known.clear()
	c.unknown.clear()
}

// Stats is what the cache holds and how often it went to the store.
type Stats struct {
	Known, Unknown int
	StoreReads     uint64
}

// Stats returns the cache's current counts.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Known: c.known.len(), Unknown: c.unknown.len(), StoreReads: c.storeHit}
}

package ratelimit

import (
	"container/list"
	"errors"
	"fmt"
	"sync"

	"golang.org/x/time/rate"
)

// ErrThrottled: the account or source sent more requests than its limit.
var ErrThrottled = errors.New("rate exceeded")

// Defaults, chosen so that an SDK client with a few callers never meets them
// while a runaway loop or a flood does.
const (
	DefaultAccountRate  = 50  // requests per second and account
	DefaultAccountBurst = 100 // requests an idle account may send at once
	DefaultSourceRate   = 100 // requests per second and source address
	DefaultSourceBurst  = 200
	// DefaultMaxTracked bounds each map of buckets. A bucket is about 100
	// bytes; when the map is full the least recently seen bucket goes, and
	// its owner starts again from a full bucket.
	DefaultMaxTracked = 10_000
)

// Config sets the limits. A rate of 0 turns that limit off.
type Config struct {
	AccountRate  float64
	AccountBurst int
	SourceRate   float64
	SourceBurst  int
	MaxTracked   int
}

// Default returns the default limits.
func Default() Config {
	return Config{AccountRate: DefaultAccountRate, AccountBurst: DefaultAccountBurst,
		SourceRate: DefaultSourceRate, SourceBurst: DefaultSourceBurst, MaxTracked: DefaultMaxTracked}
}

// Validate refuses negative limits and a rate without a burst.
func (c Config) Validate() error {
	switch {
	case c.AccountRate < 0 || c.SourceRate < 0:
		return errors.New("request rates must not be negative (0 turns a limit off)")
	case c.AccountRate > 0 && c.AccountBurst < 1, c.SourceRate > 0 && c.SourceBurst < 1:
		return errors.New("a request rate needs a burst of at least 1")
	case c.MaxTracked < 0:
		return errors.New("the number of tracked buckets must not be negative")
	}
	return nil
}

// Limiter applies a Config. A nil Limiter allows everything.
type Limiter struct {
	accounts, sources *buckets
}

// New returns a Limiter with empty buckets.
func New(c Config) *Limiter {
	max := c.MaxTracked
	if max <= 0 {
		max = DefaultMaxTracked
	}
	return &Limiter{accounts: newBuckets(c.AccountRate, c.AccountBurst, max), sources: newBuckets(c.SourceRate, c.SourceBurst, max)}
}

// AllowSource takes a token from the source address's bucket.
func (l *Limiter) AllowSource(addr string) error {
	if l == nil || l.sources.allow(addr) {
		return nil
	}
	return fmt.Errorf("source %s: %w", addr, ErrThrottled)
}

// AllowAccount takes a token from the account's bucket.
func (l *Limiter) AllowAccount(account string) error {
	if l == nil || l.accounts.allow(account) {
		return nil
	}
	return fmt.Errorf("account %s: %w", account, ErrThrottled)
}

// buckets is a bounded map of token buckets, least recently used first out.
type buckets struct {
	limit rate.Limit
	burst int
	max   int

	mu    sync.Mutex
	order *list.List // of *bucket, most recently used in front
	byKey map[string]*list.Element
}

type bucket struct {
	key string
	lim *rate.Limiter
}

func newBuckets(r float64, burst, max int) *buckets {
	if r <= 0 {
		return nil
	}
	return &buckets{limit: rate.Limit(r), burst: burst, max: max, order: list.New(), byKey: map[string]*list.Element{}}
}

// allow takes a token for key. rate.Limiter has its own lock; this one only
// guards the map, so a busy key does not hold up others for long.
func (b *buckets) allow(key string) bool {
	if b == nil {
		return true
	}
	return b.get(key).Allow()
}

func (b *buckets) get(key string) *rate.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	if el, ok := b.byKey[key]; ok {
		b.order.MoveToFront(el)
		return el.Value.(*bucket).lim
	}
	bk := &bucket{key: key, lim: rate.NewLimiter(b.limit, b.burst)}
	b.byKey[key] = b.order.PushFront(bk)
	for b.order.Len() > b.max {
		old := b.order.Back()
		b.order.Remove(old)
		delete(b.byKey, old.Value.(*bucket).key)
	}
	return bk.lim
}

// tracked is how many buckets the map holds.
func (b *buckets) tracked() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.order.Len()
}

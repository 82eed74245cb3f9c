package freshness

import (
	"strconv"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Window is how long a write is remembered. The region cache normally
// shows a write within milliseconds; a cache further behind than this is
// broken, and a read served from it would be wrong either way.
const Window = time.Minute

// Tracker remembers, for each object its owner wrote, the lowest
// resourceVersion that shows the write, so that a cached copy older than that
// is not used. Without it a DescribeCluster right after a DeleteCluster could
// answer ACTIVE, or one right after a create answer not found. A nil Tracker
// remembers nothing and finds every copy fresh.
//
// resourceVersions are opaque to clients by contract, but a kube-apiserver on
// etcd issues etcd revisions, which only grow; one that does not parse as a
// number makes every read of that cluster live, never wrong.
type Tracker struct {
	mu        sync.Mutex
	min       map[client.ObjectKey]freshMark
	lastSweep time.Time
}

// freshMark is the lowest revision a cached read must show, and when it was set.
type freshMark struct {
	rev uint64
	bad bool // the written version did not parse: read live until the window ends
	at  time.Time
}

// New returns a Tracker that remembers nothing yet.
func New() *Tracker {
	return &Tracker{min: map[client.ObjectKey]freshMark{}}
}

// Wrote records that the object at key was stored at resourceVersion rv.
func (f *Tracker) Wrote(key client.ObjectKey, rv string) { f.mark(key, rv, 0) }

// WroteAfter records a write that answered no resourceVersion (a delete):
// any version newer than rv, the one it changed, shows it.
func (f *Tracker) WroteAfter(key client.ObjectKey, rv string) { f.mark(key, rv, 1) }

func (f *Tracker) mark(key client.ObjectKey, rv string, plus uint64) {
	if f == nil {
		return
	}
	n, err := strconv.ParseUint(rv, 10, 64)
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sweep(now)
	m := freshMark{rev: n + plus, bad: err != nil, at: now}
	if old, ok := f.min[key]; ok && !old.bad && !m.bad && old.rev > m.rev {
		m.rev = old.rev
	}
	f.min[key] = m
}

// Satisfied reports whether a cached copy at resourceVersion rv ("" for no
// copy at all) shows every write recorded for key. Once one does,
// the mark is dropped: later copies are newer still.
func (f *Tracker) Satisfied(key client.ObjectKey, rv string) bool {
	if f == nil {
		return true
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.min[key]
	if !ok {
		return true
	}
	if time.Since(m.at) > Window {
		delete(f.min, key)
		return true
	}
	n, err := strconv.ParseUint(rv, 10, 64)
	if m.bad || rv == "" || err != nil || n < m.rev {
		return false
	}
	delete(f.min, key)
	return true
}

// sweep drops marks older than the window, at most every few seconds, so that
// clusters written and never read again do not accumulate. Called with f.mu held.
func (f *Tracker) sweep(now time.Time) {
	if now.Sub(f.lastSweep) < 5*time.Second {
		return
	}
	f.lastSweep = now
	for k, m := range f.min {
		if now.Sub(m.at) > Window {
			delete(f.min, k)
		}
	}
}

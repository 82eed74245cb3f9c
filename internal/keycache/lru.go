package keycache

import (
	"container/list"
	"time"
)

// lru is a map bounded to max entries that drops the least recently used
// entry to make room, each entry expiring at its own time. Not safe for
// concurrent use: Cache holds the lock.
type lru[V any] struct {
	max   int
	order *list.List // front: most recently used
	items map[string]*list.Element
}

type lruEntry[V any] struct {
	key     string
	value   V
	expires time.Time
}

func newLRU[V any](max int) *lru[V] {
	return &lru[V]{max: max, order: list.New(), items: map[string]*list.Element{}}
}

// get returns the live value of key; an expired entry is removed.
func (l *lru[V]) get(key string, now time.Time) (V, bool) {
	var zero V
	el, ok := l.items[key]
	if !ok {
		return zero, false
	}
	e := el.Value.(*lruEntry[V])
	if !now.Before(e.expires) {
		l.remove(key)
		return zero, false
	}
	l.order.MoveToFront(el)
	return e.value, true
}

func (l *lru[V]) put(key string, value V, expires time.Time) {
	if el, ok := l.items[key]; ok {
		el.Value = &lruEntry[V]{key: key, value: value, expires: expires}
		l.order.MoveToFront(el)
		return
	}
	l.items[key] = l.order.PushFront(&lruEntry[V]{key: key, value: value, expires: expires})
	for l.order.Len() > l.max {
		l.remove(l.order.Back().Value.(*lruEntry[V]).key)
	}
}

func (l *lru[V]) remove(key string) {
	if el, ok := l.items[key]; ok {
		l.order.Remove(el)
		delete(l.items, key)
	}
}

func (l *lru[V]) clear() {
	l.order.Init()
	clear(l.items)
}

func (l *lru[V]) len() int { return l.order.Len() }

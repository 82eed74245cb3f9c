// Package freshness gives reads served from an informer cache
// read-your-writes: a writer records the resourceVersion each write left, and
// a cached copy older than that is not used. It owns no cache and no client;
// the caller decides where a read goes once it knows the copy is stale.
package freshness

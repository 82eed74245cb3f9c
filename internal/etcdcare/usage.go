package etcdcare

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// PrefixUsage is the live data under one key prefix.
type PrefixUsage struct {
	Prefix string // the first three path segments, e.g. "/registry/configmaps/ns"
	Keys   int
	Bytes  int64 // sum of value sizes
}

// scanPage bounds one range response: Kubernetes objects are a few KiB, and even
// at etcd's 1.5 MiB value limit a page stays well under the client's receive limit.
const scanPage = 256

// TopPrefixes scans every key, in pages, at one revision and returns the n prefixes
// holding the most value bytes: what to delete when live data fills the quota.
// It reads every value once, so it is for rare diagnosis, not for polling.
func TopPrefixes(ctx context.Context, cli *clientv3.Client, n int) ([]PrefixUsage, error) {
	sums := map[string]*PrefixUsage{}
	key, end := "\x00", "\x00" // every key
	var rev int64
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(scanPage)}
		if rev != 0 {
			opts = append(opts, clientv3.WithRev(rev)) // one consistent picture
		}
		resp, err := cli.Get(ctx, key, opts...)
		if err != nil {
			return nil, fmt.Errorf("scanning keys from %q: %w", key, err)
		}
		rev = resp.Header.Revision
		for _, kv := range resp.Kvs {
			p := prefixOf(string(kv.Key))
			u := sums[p]
			if u == nil {
				u = &PrefixUsage{Prefix: p}
				sums[p] = u
			}
			u.Keys++
			u.Bytes += int64(len(kv.Value))
		}
		if !resp.More || len(resp.Kvs) == 0 {
			break
		}
		key = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
	return topN(sums, n), nil
}

func topN(sums map[string]*PrefixUsage, n int) []PrefixUsage {
	out := make([]PrefixUsage, 0, len(sums))
	for _, u := range sums {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b PrefixUsage) int {
		return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), cmp.Compare(a.Prefix, b.Prefix))
	})
	return out[:min(n, len(out))]
}

// prefixOf keeps a key's first three path segments: "/registry/configmaps/ns/cm"
// becomes "/registry/configmaps/ns", the unit a tenant can act on (a resource in a
// namespace). Shorter keys are their own prefix.
func prefixOf(key string) string {
	parts := strings.Split(strings.TrimPrefix(key, "/"), "/")
	if len(parts) <= 3 {
		return key
	}
	p := strings.Join(parts[:3], "/")
	if strings.HasPrefix(key, "/") {
		p = "/" + p
	}
	return p
}

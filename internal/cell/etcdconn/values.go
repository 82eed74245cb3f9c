package etcdconn

import (
	"context"
	"fmt"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// valuesPage bounds one range request while reading a prefix.
const valuesPage = 500

// Values calls f with every key and value under prefix, a page at a time, as
// stored: what Secrets encryption reads to see which key sealed each Secret.
func (c *Conn) Values(ctx context.Context, prefix string, f func(key string, value []byte)) error {
	end := clientv3.GetPrefixRangeEnd(prefix)
	from := prefix
	for {
		resp, err := c.cli.Get(ctx, from, clientv3.WithRange(end), clientv3.WithLimit(valuesPage))
		if err != nil {
			return fmt.Errorf("reading %s: %w", prefix, err)
		}
		for _, kv := range resp.Kvs {
			f(string(kv.Key), kv.Value)
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}

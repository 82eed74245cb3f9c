// Package etcdconn holds one etcd client per tenant cluster of a cell, shared
// by everything in the cell that talks to that cluster's etcd: etcd care,
// backups, member replacement and restores' replay. gRPC multiplexes their
// calls and streams over the client's connections, so a full cell keeps one
// client per cluster rather than one per concern. The client is closed when
// the cluster goes (Release) or the cell stops (Close).
package etcdconn

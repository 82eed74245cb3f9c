// Package bringup admits a cell's new control planes a few at a time. A
// control plane bursts while it comes up (etcd forming, API servers
// bootstrapping their storage and policy, controllers syncing every
// informer); started all at once on a small machine, five of them took
// twelve times as long as one, and their controller managers lost their
// leases. The Gate lets as many bring-ups run as the machine has room for
// and queues the rest in creation order, so N creates at once finish one
// after another, close to N times a single create.
//
// The queue is kept in memory and rebuilt from the store: a cluster's
// status.bringUp records its admission before any of its processes starts,
// so a cell restarted mid-burst counts the bring-ups already under way
// before it admits another.
package bringup

// Package nodeaddr hands out the addresses of real node machines, unique on
// the whole host: several cellplane instances (and so several cells) may
// run machines at once, and each machine's address, pod range and cell
// source are routed on the host.
//
// A machine claims an index k in 1..250 by creating <Dir>/<k> with O_EXCL;
// the file holds the claimant's key (the node's name). From k follow:
//
//   - Address 10.250.1.k, the node's IP (IPv4, not loopback, as the kubelet
//     wants; 10.250.0.0/24 is left to machines started by hand in tests);
//   - PodCIDR 10.244.k.0/24, inside the clusters' pod range 10.244.0.0/16
//     that kube-proxy takes for its cluster CIDR;
//   - CellSource <cell>.240.k, in the cell's loopback /16 (third octet 240
//     is unused by the cell's address plan).
//
// A claim whose node's network namespace (/run/netns/cellplane-node-<key>)
// is gone and that was last made or renewed (its owner asking for it
// again, as the cell does on every pass) over a minute ago is stale: its owner died
// between claiming and starting, or after stopping without releasing. Such
// a claim is taken over. The caller keeps k with the node (in its
// directory) so a restarted cell keeps the node's addresses, and releases
// it when the node is removed.
package nodeaddr

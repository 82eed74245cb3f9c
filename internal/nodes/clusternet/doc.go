// Package clusternet owns a cluster's network on this host: one network
// namespace per cluster (its "VPC"), which routes pod traffic between the
// cluster's real nodes (package machine) and holds the address the
// cluster's `kubernetes` Service points at.
//
// Each machine of the cluster gets a second link, eth1, whose other end is
// in the cluster's namespace. The namespace forwards (its own ip_forward;
// the host's stays off) between the nodes' pod ranges and nothing else:
// it has no default route and no link to the host, so nodes of other
// clusters, and everything beyond the host, are out of its reach.
//
// EndpointSlices refuse loopback addresses, where the API servers listen.
// So the API servers advertise ServiceAddress, an address inside every
// cluster namespace, and Run forwards each TCP connection to it, untouched
// (TLS passes through), to the cluster's endpoint on the cell's loopback
// block, dialled from the host.
//
// While any cluster network exists, the host routes the cluster networks',
// pods' and nodes' ranges as unreachable (a running machine's own routes
// are more specific): it has no link into a cluster network, and must not
// send an address of one to its default gateway.
//
// Run and Remove manage the namespace; Attach and Detach, which package
// machine calls, join and leave it. Which clusters have a network and when
// is the caller's business.
package clusternet

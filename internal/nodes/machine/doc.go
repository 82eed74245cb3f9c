// Package machine runs a small machine that joins a tenant cluster as a real
// node: a network namespace with its own address, a mount namespace with its
// own /run, /var/lib and /var/log, a cgroup tree of its own, and in it
// containerd (Debian's 1.6, with runc and the CNI bridge and host-local
// plugins) and a kubelet that joins by TLS bootstrap.
//
// A machine shares the host's kernel and nothing else it can avoid: the
// kernel settings the kubelet insists on (vm.overcommit_memory, kernel.panic
// and friends) are shown to it as files inside its mount namespace, so the
// host's stay as they are; its network reaches only the cell's loopback
// block (where the cluster's endpoint is) and the host's route back to it,
// and, with Config.Network, its cluster's network (package clusternet) on a
// second link, eth1: the other nodes' pods and the `kubernetes` Service's
// addresses.
//
// Stop, and Remove for a machine whose owner died, end every process in the
// machine's cgroups by PID, which takes its mount namespace, and with it every
// mount containerd and the kubelet made, away with them; then they delete
// the namespace, the host's end of the link and the machine's directory.
// Which machines exist and when is the caller's business (the node-group
// controller's); this package only starts and stops one.
package machine

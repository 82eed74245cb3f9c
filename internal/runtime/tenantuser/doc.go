// Package tenantuser gives each tenant cluster an unprivileged user and group
// of its own and lays out its files so that only it, and cellplane, can read
// them.
//
// Ids are derived, not allocated: a cluster's uid and gid are
// Base + cell octet × 4096 + address slot. The slot is recorded in the
// Cluster's status before anything runs and the octet in the data
// directory's instance record, so a restarted or adopting cellplane finds
// the same ids with nothing more to store, and two instances on one machine
// (which need distinct address blocks) never share one. A deleted cluster's
// slot, and so its ids, may go to a later cluster: deletion removes every
// process and file of the old one first. No /etc/passwd entry is needed:
// processes get numeric credentials (syscall.Credential).
//
// Files: the cluster directory, its PKI and config directories belong to
// root with the cluster's group (0750, setgid, keys 0640): the tenant reads
// them and cannot replace them, so nothing the cell reads back as root can be
// swapped for a link to the service's own secrets. What the tenant writes is
// its own: etcd data directories (tenant-owned 0700, re-owned before every
// start so a restore or member replacement written by root is readable) and
// the log directory (group-writable, sticky, for audit logs). Every directory
// above the cluster directory lets the tenants' shared group traverse, and
// nothing more, through one POSIX ACL entry, so /root may stay 0700.
package tenantuser

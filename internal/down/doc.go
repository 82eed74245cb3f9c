// Package down stops everything cellplane runs on a data directory: a running
// `cellplane up`, the cells' own processes and load balancers, the management
// stores and the tenant control planes. It finds them only through the lock and pid
// files cellplane keeps, and signals a PID only after checking that it is still the
// process those files name, so a recycled PID is never hit.
//
// Processes stop in tiers, the members of a tier side by side: `up` first (it stops
// its cells and the region store itself), then whatever supervises and would
// restart the rest (cells), then load balancers and controllers, API servers, and
// etcd last, as a cluster's teardown does. Tenant control planes are other people's
// clusters: when any run, Stop stops nothing at all, cellplane's own processes
// included, unless the caller confirmed. It deletes no data: the next `cellplane
// up` starts everything again.
package down

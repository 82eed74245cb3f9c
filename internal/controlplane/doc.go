// Package controlplane describes one tenant control plane on the process runtime:
// its members and their zones and addresses, the certificates they need, the files
// they read and the exact command line of every process. Everything is derived from
// the cluster's identity, cell and slot, so a restarted cellplane recomputes the same
// plan and adopts the running processes instead of replacing them.
package controlplane

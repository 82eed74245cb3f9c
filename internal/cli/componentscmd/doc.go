// Package componentscmd is the `cellplane components` command group: it
// builds the pinned upstream releases (etcd, Kubernetes control planes,
// tools and node binaries) into the component cache and lists what is
// offered. Package components owns the builds; this package only parses the
// command line.
package componentscmd

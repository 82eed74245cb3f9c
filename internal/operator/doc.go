// Package operator is the one client library of cellplane's operator
// commands: accounts, cells and their zones, and backups. A Client works on a
// data directory: on the region's store with the store's admin credentials
// (and, for accounts, the master key), so only someone who can read the data
// directory can use it, and on the backup storage directly, so backups can be
// listed while cellplane is down. `cellplane account|cell|zone|backup` are
// thin layers over it, and tests use it the same way.
package operator

// Package datadir is the layout of a cellplane data directory, through which
// every process of an instance finds the others: the instance record (its
// address block, cells and zone mode, fixed when the directory is created),
// the lock that makes one process its owner, the regional API's endpoint and
// AWS profile, where the region's store, each cell and the keys live, and the
// backup configuration `up` last ran with. It starts nothing.
package datadir

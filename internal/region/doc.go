// Package region composes a whole cellplane on one machine, the embedded
// default: the region (its store, the regional API, the first account and its
// AWS profile) and its cells, each started as its own supervised process
// (package cell). `cellplane up` is a thin layer over Start.
package region

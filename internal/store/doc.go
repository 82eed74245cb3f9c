// Package store runs a management store: one single-member etcd and one
// kube-apiserver, built from the same components as tenant control planes, holding
// cellplane's own resources. The region and every cell each run their own, so a
// cell keeps working while the region's store is down.
package store

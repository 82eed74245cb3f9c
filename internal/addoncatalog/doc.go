// Package addoncatalog is the catalogue of the managed add-ons cellplane
// offers, CoreDNS and kube-proxy: which versions of each are compatible with
// which Kubernetes minor and which is the default, the schema their
// configurationValues must meet, and the names of the images their
// workloads run. The regional API validates requests against it, the cell
// renders manifests from it, and whoever builds node images builds the
// images it names. It decides nothing about when an add-on is applied.
package addoncatalog

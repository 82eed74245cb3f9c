// Package images builds the container images a machine needs without a
// registry: a pause image (the pods' sandbox, in Go where upstream's is C)
// and a small test web server, each a static Go binary from src/ in a
// single-layer image; and the add-ons' images, kube-proxy (the release's
// binary with the host's iptables and nft userland and their libraries)
// and CoreDNS, from the cached components. Each is written as an OCI
// archive that `ctr images import` loads. Builds are cached by content, so
// a machine pays for them once; NodeArchives lists what a node loads.
package images

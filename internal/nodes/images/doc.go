// Package images builds the container images a machine needs without a
// registry: a pause image (the pods' sandbox, in Go where upstream's is C)
// and a small test web server, each a static Go binary from src/ in a
// single-layer image, written as an OCI archive that `ctr images import`
// loads. Builds are cached by content, so a machine pays for them once.
package images

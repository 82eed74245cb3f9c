// Package nodes holds what a worker node of a tenant cluster needs from
// cellplane: its binaries' build lives in internal/components, and the
// packages below this one each own one step of a node's life: bootstrap
// (the credentials it joins with), csrapproval (which serving certificates it
// may get), images (what its container runtime runs without a registry) and
// machine (the small machine it runs on).
package nodes

// Package kubeconfig writes kubeconfig files for tenant control-plane
// components and for admins. Each file holds one cluster, one user and one
// context named after the cluster, so it can be used as is or merged into a
// user's own kubeconfig.
package kubeconfig

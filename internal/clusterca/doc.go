// Package clusterca holds the rules of a tenant cluster's Kubernetes CA
// rotation as the region applies them: what the tenant sees of each CA (the
// spec the region writes merged with the status the cell reports), which of
// CreateCertificateAuthority, ActivateCertificateAuthority and
// DeleteCertificateAuthority the cluster's state allows, how each changes
// spec.certificateAuthorities, and when the update each recorded is done.
// It reads and changes Cluster objects in memory only; the regional API stores
// them, and the cell (internal/cell/carotation) carries the changes out.
package clusterca

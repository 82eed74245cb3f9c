// Package eks holds the wire shapes of cellplane's regional API, which speaks the
// EKS REST protocol (restJson1): request and response bodies, the Cluster object
// with cellplane's "cellplane" extension, and the typed APIError that carries an
// EKS error type. The region's server and the client library share these types, so
// the two can never disagree about a field name.
package eks

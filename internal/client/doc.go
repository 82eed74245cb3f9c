// Package client is the Go client of cellplane's regional API, used by the CLI and
// the tests. It speaks the same EKS-shaped wire protocol as the AWS SDKs, with the
// shapes of package eks, and turns error responses into *eks.APIError values that
// match errdefs sentinels with errors.Is.
package client

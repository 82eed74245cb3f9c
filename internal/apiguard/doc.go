// Package apiguard is what stands between the regional API's routes and the
// network: the HTTP server's bounds (timeouts, header size, HTTP/1.1 only)
// with their flags, and the order in which a request meets the source rate
// limit, the SigV4 verifier and the account rate limit. The limits
// themselves are internal/ratelimit's, the signature internal/sigv4's; the
// wire errors stay in the API's one table.
package apiguard

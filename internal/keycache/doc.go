// Package keycache keeps the regional API's access key lookups off the store:
// a sigv4.KeyStore in front of another that remembers verified keys briefly and
// unknown keys as unknown, both in bounded LRU maps, so a flood of requests
// with made-up or revoked keys costs no store read once each key was seen.
// Entries are forgotten when their TTL ends or when the key's object changes
// (Invalidate, driven by account.WatchKeys), so a deactivated key is refused
// as soon as the watch reports it. It does not decide what a key is worth:
// the store behind it does.
package keycache

// Package quota enforces the per-account limits of the regional API that
// need more than a look at one request: how many clusters an account may have
// (EKS's default of 100, or the operator's override on the account's
// namespace), with reservations so that concurrent creates cannot share the
// last slot. It stores nothing itself; the regional API maps its errors to
// ResourceLimitExceededException.
package quota

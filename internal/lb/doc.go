// Package lb is the cell's load balancer: one long-running process per cell
// that gives every tenant cluster a stable endpoint and passes its TCP
// connections, TLS untouched, to the cluster's healthy kube-apiservers.
//
// It protects the API servers from floods, and each endpoint from floods of
// another: connections are capped per endpoint and in total, a backend is
// dialled only once the client has spoken, and a client that stays silent is
// closed (limits.go).
//
// Its whole configuration is a directory of JSON files, one per endpoint, so
// it keeps serving with the last configuration it saw when cellplane itself is
// down (static stability).
package lb

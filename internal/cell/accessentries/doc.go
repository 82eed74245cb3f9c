// Package accessentries keeps the cell's copy of the access entries of the
// clusters the cell runs. The region stores every entry; the cell's
// authenticator and authorizer read only the cell's store, so sign-in keeps
// working while the region is down. Entries deleted in the region, or whose
// cluster is gone, disappear from the cell. It copies and deletes; it never
// decides what an entry grants.
package accessentries

// Package objstore owns where backup objects live: a Store of whole objects under
// slash-separated keys, kept either in a local directory (Dir) or in an S3 bucket
// (S3). Objects are written whole and atomically, from bodies the caller has
// already spooled, encrypted and checksummed; the store adds no format of its own.
// Create writes a record only if none exists (If-None-Match: * on S3), so
// concurrent writers cannot overwrite each other's.
package objstore

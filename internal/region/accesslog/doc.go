// Package accesslog is the regional API's access log: one line per request
// with its method, path, status, duration and the cluster it named, and a
// request ID sent back in the header the AWS SDKs surface. Handlers note
// the cluster a request is about; the error writer reads the ID. It never
// logs bodies, which hold tags and credentials.
package accesslog

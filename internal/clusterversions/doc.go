// Package clusterversions is the catalogue of Kubernetes versions the regional
// API offers: it resolves the version a request asks for, renders the offered
// releases as EKS ClusterVersions (DescribeClusterVersions), filters and pages
// them. It holds no state beyond components' releases, so the HTTP handler that
// serves it stays a thin method of the API server.
package clusterversions

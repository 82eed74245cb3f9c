// Package paging holds the pagination rules the regional API's list operations
// share (ListClusters, ListUpdates, ListCertificateAuthorities,
// DescribeClusterVersions): the maxResults bounds check and the opaque
// nextToken, which names the last item of the previous page. One format for
// every operation means a change of format happens in one place.
package paging

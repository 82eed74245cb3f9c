// Package insights computes a cluster's upgrade insights, the EKS Insights
// API's content: deprecated APIs that the next minors no longer serve, with
// the user agents that still call them; kubelet version skew; add-on
// compatibility with the next minor; and rollback readiness. It is pure
// logic over what the cell gathers (the API servers' metrics text, their
// audit log lines, the nodes' kubelet versions, the installed add-ons): it
// reads no files and opens no connections. It also decides whether an
// upgrade is refused because of an insight (RefuseUpgrade).
//
// Which APIs a minor removes comes from the API servers themselves: every
// kube-apiserver labels its apiserver_requested_deprecated_apis series and
// its audit events with the release that removes the API
// (removed_release, k8s.io/removed-release), compiled in from k8s.io/api's
// prerelease-lifecycle data of the very binary the cluster runs. So the
// table follows the running patch release and needs no copy kept in sync.
// The replacement of an API (replacedWith) is the one k8s.io/api's own
// lifecycle data names for the type, read from the types this binary is
// built with (ReplacementOf).
package insights

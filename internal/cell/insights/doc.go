// Package insights is the cell's side of upgrade insights: a controller that
// gathers, for each ACTIVE cluster of the cell, what its API servers know of
// deprecated API use (their /metrics and their audit logs on the cell's
// disk), its nodes' kubelet versions and its add-ons, has package
// internal/insights turn them into insights, and writes them to
// status.insights, which the agent reports to the region. It refreshes each
// cluster daily and whenever the region asks (the
// cellplane.io/insights-refresh-requested annotation, set by
// StartInsightsRefresh). It changes nothing in the tenant cluster.
package insights

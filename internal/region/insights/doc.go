// Package insights serves the regional API's upgrade insight operations,
// the EKS way: ListInsights, DescribeInsight, StartInsightsRefresh and
// DescribeInsightsRefresh. The insights are computed in the cluster's cell
// (internal/cell/insights) and read here from the cluster's status; a
// refresh is asked for with an annotation on the cluster that the cell
// answers. It checks every input before it changes anything, reads
// clusters only through the Clusters the regional API hands it, and its
// errors go through the API's one wire-error table.
package insights

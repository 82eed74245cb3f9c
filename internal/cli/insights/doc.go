// Package insights is the `cellplane cluster insights` command: a cluster's
// upgrade insights (EKS ListInsights and DescribeInsight), refreshed first
// with --refresh (StartInsightsRefresh, then DescribeInsightsRefresh until it
// ends). A thin layer over internal/client.
package insights

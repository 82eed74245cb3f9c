package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/cellplane/cellplane/internal/eks"
)

// ListInsights returns every insight of a cluster that the filter matches
// (nil: all of them).
func (c *Client) ListInsights(ctx context.Context, cluster string, filter *eks.InsightsFilter) ([]eks.InsightSummary, error) {
	var all []eks.InsightSummary
	err := pages(func(token string) (string, error) {
		var out eks.ListInsightsOutput
		in := eks.ListInsightsInput{Filter: filter, NextToken: token}
		if err := c.call(ctx, http.MethodPost, clusterPath(cluster)+"/insights", nil, in, &out); err != nil {
			return "", err
		}
		all = append(all, out.Insights...)
		return out.NextToken, nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing insights of cluster %s: %w", cluster, err)
	}
	return all, nil
}

// DescribeInsight returns one insight of a cluster.
func (c *Client) DescribeInsight(ctx context.Context, cluster, id string) (*eks.Insight, error) {
	var out eks.DescribeInsightOutput
	if err := c.call(ctx, http.MethodGet, clusterPath(cluster)+"/insights/"+url.PathEscape(id), nil, nil, &out); err != nil {
		return nil, fmt.Errorf("describing insight %s of cluster %s: %w", id, cluster, err)
	}
	if out.Insight == nil {
		return nil, errors.New("the response has no insight")
	}
	return out.Insight, nil
}

// StartInsightsRefresh asks for the cluster's insights to be computed now.
func (c *Client) StartInsightsRefresh(ctx context.Context, cluster string) (*eks.StartInsightsRefreshOutput, error) {
	var out eks.StartInsightsRefreshOutput
	if err := c.call(ctx, http.MethodPost, clusterPath(cluster)+"/insights-refresh", nil, nil, &out); err != nil {
		return nil, fmt.Errorf("refreshing insights of cluster %s: %w", cluster, err)
	}
	return &out, nil
}

// DescribeInsightsRefresh returns the state of the latest refresh asked for.
func (c *Client) DescribeInsightsRefresh(ctx context.Context, cluster string) (*eks.DescribeInsightsRefreshOutput, error) {
	var out eks.DescribeInsightsRefreshOutput
	if err := c.call(ctx, http.MethodGet, clusterPath(cluster)+"/insights-refresh", nil, nil, &out); err != nil {
		return nil, fmt.Errorf("describing the insights refresh of cluster %s: %w", cluster, err)
	}
	return &out, nil
}

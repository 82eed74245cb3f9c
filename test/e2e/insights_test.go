package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cellplane/cellplane/test/framework"
)

// legacyAgent is the user agent of the client that still uses an API the
// next minor drops; modernAgent uses its replacement.
const (
	legacyAgent = "insights-e2e-legacy-client/0.1"
	modernAgent = "insights-e2e-modern-client/0.1"
)

// TestUpgradeInsights: a client that calls an API the next minor no longer
// serves shows up in ListInsights with its user agent, and the upgrade is
// refused until forced. No API served by default on 1.36 is gone in 1.37, so
// the cell serves networking.k8s.io/v1beta1 (ServiceCIDR, IPAddress; removed
// in 1.37) on 1.36 through its operator setting.
func TestUpgradeInsights(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.Args = []string{"--apiserver-runtime-config", "1.36:networking.k8s.io/v1beta1=true"}
	in.Start(ctx)
	sdk := sdkClient(t, in.DataDir)
	const name = "insights"
	_, err := sdk.CreateCluster(ctx, &awseks.CreateClusterInput{Name: aws.String(name), Version: aws.String("1.36"),
		RoleArn:            aws.String("arn:aws:iam::000000000000:role/eks"),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-a", "subnet-b"}}})
	if err != nil {
		t.Fatalf("CreateCluster: %v", err)
	}
	waitActive(ctx, t, sdk, name)

	// The cell refreshed the insights once already, at ACTIVE, before any
	// call: the refresh asked for now must see the calls made since.
	callServiceCIDRs(ctx, t, kubeconfig(ctx, t, in, name))
	refreshInsights(ctx, t, sdk, name)

	out, err := sdk.ListInsights(ctx, &awseks.ListInsightsInput{ClusterName: aws.String(name),
		Filter: &types.InsightsFilter{Statuses: []types.InsightStatusValue{types.InsightStatusValueError}, KubernetesVersions: []string{"1.37"}}})
	if err != nil {
		t.Fatalf("ListInsights: %v", err)
	}
	i := slices.IndexFunc(out.Insights, func(s types.InsightSummary) bool {
		return aws.ToString(s.Name) == "Deprecated APIs removed in Kubernetes v1.37"
	})
	if i < 0 {
		t.Fatalf("no deprecated-API insight in ERROR for 1.37: %s", insightSummaries(out.Insights))
	}
	sum := out.Insights[i]
	if sum.Category != types.CategoryUpgradeReadiness || sum.InsightStatus == nil || !strings.Contains(aws.ToString(sum.InsightStatus.Reason), "servicecidrs") {
		t.Fatalf("insight summary: %s", insightSummaries(out.Insights[i:i+1]))
	}
	desc, err := sdk.DescribeInsight(ctx, &awseks.DescribeInsightInput{ClusterName: aws.String(name), Id: sum.Id})
	if err != nil {
		t.Fatalf("DescribeInsight: %v", err)
	}
	checkDeprecation(t, desc.Insight)
	t.Logf("insight %s: %s", aws.ToString(sum.Id), aws.ToString(desc.Insight.InsightStatus.Reason))

	// The CLI shows the same insight, client statistics included.
	if out, errOut, err := in.CLI(ctx, "cluster", "insights", name, "--id", aws.ToString(sum.Id)); err != nil || !strings.Contains(out, legacyAgent) {
		t.Fatalf("cluster insights --id: %v\n%s\n%s", err, out, errOut)
	}

	// Every insight is listed, the rollback one honest about having nothing to judge.
	all, err := sdk.ListInsights(ctx, &awseks.ListInsightsInput{ClusterName: aws.String(name)})
	if err != nil {
		t.Fatalf("ListInsights: %v", err)
	}
	for _, want := range []string{"Kubelet version skew", "Amazon EKS add-on version compatibility", "Rollback readiness", "Deprecated APIs removed in Kubernetes v1.38"} {
		if !slices.ContainsFunc(all.Insights, func(s types.InsightSummary) bool { return aws.ToString(s.Name) == want }) {
			t.Errorf("no insight %q: %s", want, insightSummaries(all.Insights))
		}
	}

	// The upgrade is refused without force, with the EKS error, and nothing changes.
	_, err = sdk.UpdateClusterVersion(ctx, &awseks.UpdateClusterVersionInput{Name: aws.String(name), Version: aws.String("1.37")})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidRequestException" || !strings.Contains(apiErr.ErrorMessage(), aws.ToString(sum.Id)) {
		t.Fatalf("UpdateClusterVersion without force: want InvalidRequestException naming insight %s, got %v", aws.ToString(sum.Id), err)
	}
	t.Logf("refused without force: %s: %s", apiErr.ErrorCode(), apiErr.ErrorMessage())
	cl, err := sdk.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil || aws.ToString(cl.Cluster.Version) != "1.36" {
		t.Fatalf("after the refused upgrade: %v, version %s", err, aws.ToString(cl.Cluster.Version))
	}
	ups, err := sdk.ListUpdates(ctx, &awseks.ListUpdatesInput{Name: aws.String(name)})
	if err != nil || len(ups.UpdateIds) != 0 {
		t.Fatalf("the refused upgrade left updates %v (%v)", ups.UpdateIds, err)
	}
	// With force the request gets past the insights (the upgrade itself is not
	// this test's subject).
	up, err := sdk.UpdateClusterVersion(ctx, &awseks.UpdateClusterVersionInput{Name: aws.String(name), Version: aws.String("1.37"), Force: true})
	if err != nil || up.Update == nil || up.Update.Type != types.UpdateTypeVersionUpdate {
		t.Fatalf("UpdateClusterVersion with force: %v", err)
	}
	t.Logf("with force: update %s %s", aws.ToString(up.Update.Id), up.Update.Status)
}

// callServiceCIDRs lists ServiceCIDRs three times through the deprecated
// v1beta1 API as legacyAgent, and once through v1 as modernAgent.
func callServiceCIDRs(ctx context.Context, t *testing.T, kc string) {
	t.Helper()
	for _, c := range []struct {
		agent, version string
		calls          int
	}{{legacyAgent, "v1beta1", 3}, {modernAgent, "v1", 1}} {
		cfg, err := clientcmd.BuildConfigFromFlags("", kc)
		if err != nil {
			t.Fatal(err)
		}
		cfg.UserAgent = c.agent
		dyn, err := dynamic.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		gvr := schema.GroupVersionResource{Group: "networking.k8s.io", Version: c.version, Resource: "servicecidrs"}
		for range c.calls {
			if _, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{}); err != nil {
				t.Fatalf("listing %s as %s: %v", gvr, c.agent, err)
			}
		}
	}
}

// refreshInsights starts a refresh and waits until it has COMPLETED.
func refreshInsights(ctx context.Context, t *testing.T, sdk *awseks.Client, name string) {
	t.Helper()
	start, err := sdk.StartInsightsRefresh(ctx, &awseks.StartInsightsRefreshInput{ClusterName: aws.String(name)})
	if err != nil || start.Status != types.InsightsRefreshStatusInProgress {
		t.Fatalf("StartInsightsRefresh: %v %+v", err, start)
	}
	begun := time.Now()
	err = framework.Eventually(ctx, 2*time.Minute, 500*time.Millisecond, func() error {
		d, err := sdk.DescribeInsightsRefresh(ctx, &awseks.DescribeInsightsRefreshInput{ClusterName: aws.String(name)})
		switch {
		case err != nil:
			return err
		case d.Status == types.InsightsRefreshStatusFailed:
			return framework.Permanent(fmt.Errorf("refresh FAILED: %s", aws.ToString(d.Message)))
		case d.Status != types.InsightsRefreshStatusCompleted:
			return fmt.Errorf("refresh is %s", d.Status)
		case d.StartedAt == nil || d.EndedAt == nil || d.EndedAt.Before(*d.StartedAt):
			return framework.Permanent(fmt.Errorf("refresh times: started %v, ended %v", d.StartedAt, d.EndedAt))
		}
		t.Logf("refresh COMPLETED after %v: %s", time.Since(begun).Round(time.Millisecond), aws.ToString(d.Message))
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for the insights refresh: %v", err)
	}
}

// checkDeprecation checks the insight names the v1beta1 ServiceCIDR API with
// the legacy client's three calls, and not the modern client.
func checkDeprecation(t *testing.T, ins *types.Insight) {
	t.Helper()
	if ins == nil || ins.CategorySpecificSummary == nil || len(ins.CategorySpecificSummary.DeprecationDetails) == 0 {
		t.Fatalf("insight without deprecation details: %+v", ins)
	}
	var d *types.DeprecationDetail
	for i, dd := range ins.CategorySpecificSummary.DeprecationDetails {
		if aws.ToString(dd.Usage) == "/apis/networking.k8s.io/v1beta1/servicecidrs" {
			d = &ins.CategorySpecificSummary.DeprecationDetails[i]
		}
	}
	if d == nil || aws.ToString(d.StopServingVersion) != "1.37" {
		t.Fatalf("deprecation details: %+v", ins.CategorySpecificSummary.DeprecationDetails)
	}
	var legacy *types.ClientStat
	for i, c := range d.ClientStats {
		switch ua := aws.ToString(c.UserAgent); {
		case ua == legacyAgent:
			legacy = &d.ClientStats[i]
		case strings.Contains(ua, modernAgent):
			t.Errorf("the v1 client is listed as calling v1beta1: %+v", c)
		}
	}
	if legacy == nil {
		t.Fatalf("no client stats for %s: %+v", legacyAgent, d.ClientStats)
	}
	last := aws.ToTime(legacy.LastRequestTime)
	t.Logf("client stat: %s, %d requests, last at %v", aws.ToString(legacy.UserAgent), legacy.NumberOfRequestsLast30Days, last)
	if legacy.NumberOfRequestsLast30Days != 3 || time.Since(last) > 10*time.Minute || time.Until(last) > time.Minute {
		t.Fatalf("client stats of %s: %d requests, last at %v", legacyAgent, legacy.NumberOfRequestsLast30Days, last)
	}
	if ins.InsightStatus == nil || ins.InsightStatus.Status != types.InsightStatusValueError || aws.ToString(ins.Recommendation) == "" {
		t.Fatalf("insight status: %+v", ins.InsightStatus)
	}
}

func insightSummaries(s []types.InsightSummary) string {
	var out []string
	for _, i := range s {
		st := types.InsightStatus{}
		if i.InsightStatus != nil {
			st = *i.InsightStatus
		}
		out = append(out, fmt.Sprintf("%s %q %s %s (%s)", aws.ToString(i.Id), aws.ToString(i.Name), aws.ToString(i.KubernetesVersion), st.Status, aws.ToString(st.Reason)))
	}
	return strings.Join(out, "; ")
}

package e2e

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"

	"github.com/cellplane/cellplane/test/framework"
)

// TestAccountIsolation: a second account, made with `cellplane account create`,
// signs its own requests and sees and touches none of the first account's clusters.
func TestAccountIsolation(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	owner := sdkClient(t, in.DataDir)
	if _, err := owner.CreateCluster(ctx, &awseks.CreateClusterInput{
		Name: aws.String("private"), RoleArn: aws.String("arn:aws:iam::000000000000:role/x"),
		ResourcesVpcConfig: &types.VpcConfigRequest{},
	}); err != nil {
		t.Fatalf("owner CreateCluster: %v", err)
	}

	key := createAccount(ctx, t, in, "team-b")
	other := forgedClient(t, in.DataDir, key.AccessKeyID, key.SecretAccessKey)

	list, err := other.ListClusters(ctx, &awseks.ListClustersInput{})
	if err != nil || len(list.Clusters) != 0 {
		t.Fatalf("the other account lists %v (%v), want nothing", list, err)
	}
	var notFound *types.ResourceNotFoundException
	if _, err := other.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String("private")}); !errors.As(err, &notFound) {
		t.Fatalf("the other account describes the owner's cluster: %v", err)
	}
	if _, err := other.DeleteCluster(ctx, &awseks.DeleteClusterInput{Name: aws.String("private")}); !errors.As(err, &notFound) {
		t.Fatalf("the other account deletes the owner's cluster: %v", err)
	}
	if _, err := owner.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String("private")}); err != nil {
		t.Fatalf("the owner's cluster was disturbed: %v", err)
	}

	out, _, err := in.CLI(ctx, "account", "list")
	if err != nil || !strings.Contains(out, key.Account) || !strings.Contains(out, "team-b") {
		t.Fatalf("account list: %v\n%s", err, out)
	}
	if _, errOut, err := in.CLI(ctx, "account", "delete", "000000000000"); err == nil || !strings.Contains(errOut, "first account") {
		t.Fatalf("deleting the first account: %v %s", err, errOut)
	}
	if _, errOut, err := in.CLI(ctx, "account", "delete", key.Account); err != nil {
		t.Fatalf("account delete: %v\n%s", err, errOut)
	}
	if _, err := other.ListClusters(ctx, &awseks.ListClustersInput{}); err == nil || !strings.Contains(err.Error(), "UnrecognizedClientException") {
		t.Fatalf("a deleted account's key still works: %v", err)
	}
	if _, err := owner.DeleteCluster(ctx, &awseks.DeleteClusterInput{Name: aws.String("private")}); err != nil {
		t.Fatalf("owner DeleteCluster: %v", err)
	}
	waitGone(ctx, t, owner, "private")
}

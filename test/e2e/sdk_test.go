package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/smithy-go"

	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/test/framework"
)

// TestAWSSDK drives the regional API with the official aws-sdk-go-v2 EKS client,
// the proof that cellplane speaks the EKS wire protocol and not only its own client.
func TestAWSSDK(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	sdk := sdkClient(t, in.DataDir)

	create := func(name, token string, tags map[string]string) *types.Cluster {
		t.Helper()
		out, err := sdk.CreateCluster(ctx, &awseks.CreateClusterInput{
			Name:               aws.String(name),
			ClientRequestToken: tokenOrNil(token),
			Tags:               tags,
			Version:            aws.String("1.37"),
			RoleArn:            aws.String("arn:aws:iam::000000000000:role/eks"),
			ResourcesVpcConfig: &types.VpcConfigRequest{
				SubnetIds: []string{"subnet-a", "subnet-b"}, EndpointPublicAccess: aws.Bool(true),
			},
		})
		if err != nil {
			t.Fatalf("CreateCluster %s: %v", name, err)
		}
		return out.Cluster
	}
	cl := create("sdk-one", "", nil) // the SDK fills in a token of its own
	if aws.ToString(cl.Name) != "sdk-one" || cl.Status != types.ClusterStatusCreating {
		t.Fatalf("created %+v", cl)
	}
	second := create("sdk-two", "sdk-two-token", map[string]string{"team": "a"})
	// A retry with the same token and parameters answers with the same cluster;
	// the same token with other parameters is refused.
	retry := create("sdk-two", "sdk-two-token", map[string]string{"team": "a"})
	if aws.ToString(retry.Arn) != aws.ToString(second.Arn) || !aws.ToTime(retry.CreatedAt).Equal(aws.ToTime(second.CreatedAt)) {
		t.Fatalf("idempotent retry returned %+v, want the original %+v", retry, second)
	}
	_, err := sdk.CreateCluster(ctx, &awseks.CreateClusterInput{Name: aws.String("sdk-two"), ClientRequestToken: aws.String("sdk-two-token"),
		Tags: map[string]string{"team": "b"}, RoleArn: aws.String("arn:aws:iam::000000000000:role/eks"),
		ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-a", "subnet-b"}, EndpointPublicAccess: aws.Bool(true)}})
	var inUse *types.ResourceInUseException
	if !errors.As(err, &inUse) || !strings.Contains(inUse.ErrorMessage(), "different parameters") {
		t.Fatalf("same token, other tags = %v, want ResourceInUseException about different parameters", err)
	}
	defer func() {
		if _, err := sdk.DeleteCluster(ctx, &awseks.DeleteClusterInput{Name: second.Name}); err != nil {
			t.Errorf("DeleteCluster sdk-two: %v", err)
		}
		waitGone(ctx, t, sdk, "sdk-two")
	}()
	waitActive(ctx, t, sdk, "sdk-one")

	t.Run("ListClusters pages", func(t *testing.T) {
		var names []string
		var token *string
		for pages := 0; ; pages++ {
			out, err := sdk.ListClusters(ctx, &awseks.ListClustersInput{MaxResults: aws.Int32(1), NextToken: token})
			if err != nil || len(out.Clusters) > 1 || pages > 3 {
				t.Fatalf("ListClusters: %v %+v", err, out)
			}
			names = append(names, out.Clusters...)
			if token = out.NextToken; token == nil {
				break
			}
		}
		if !slices.Equal(names, []string{"sdk-one", "sdk-two"}) {
			t.Fatalf("paged names %v", names)
		}
	})

	t.Run("tags", func(t *testing.T) {
		arn := cl.Arn
		if _, err := sdk.TagResource(ctx, &awseks.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"team": "sdk", "env": "e2e"}}); err != nil {
			t.Fatalf("TagResource: %v", err)
		}
		if _, err := sdk.UntagResource(ctx, &awseks.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"env"}}); err != nil {
			t.Fatalf("UntagResource: %v", err)
		}
		out, err := sdk.ListTagsForResource(ctx, &awseks.ListTagsForResourceInput{ResourceArn: arn})
		if err != nil || len(out.Tags) != 1 || out.Tags["team"] != "sdk" {
			t.Fatalf("ListTagsForResource: %v %v", out, err)
		}
		_, err = sdk.ListTagsForResource(ctx, &awseks.ListTagsForResourceInput{ResourceArn: aws.String("not-an-arn")})
		var bad *types.BadRequestException
		if !errors.As(err, &bad) {
			t.Fatalf("malformed ARN: %T %v", err, err)
		}
	})

	t.Run("updates", func(t *testing.T) {
		up, err := sdk.UpdateClusterConfig(ctx, &awseks.UpdateClusterConfigInput{
			Name: aws.String("sdk-one"),
			Logging: &types.Logging{ClusterLogging: []types.LogSetup{
				{Types: []types.LogType{types.LogTypeApi, types.LogTypeAudit}, Enabled: aws.Bool(true)},
			}},
			ClientRequestToken: aws.String("sdk-logging-1"),
		})
		if err != nil || up.Update == nil || up.Update.Status != types.UpdateStatusSuccessful || up.Update.Type != types.UpdateTypeLoggingUpdate {
			t.Fatalf("UpdateClusterConfig: %v %+v", err, up)
		}
		id := up.Update.Id
		got, err := sdk.DescribeUpdate(ctx, &awseks.DescribeUpdateInput{Name: aws.String("sdk-one"), UpdateId: id})
		if err != nil || aws.ToString(got.Update.Id) != aws.ToString(id) || len(got.Update.Params) == 0 {
			t.Fatalf("DescribeUpdate: %v %+v", err, got)
		}
		list, err := sdk.ListUpdates(ctx, &awseks.ListUpdatesInput{Name: aws.String("sdk-one"), MaxResults: aws.Int32(10)})
		if err != nil || !slices.Contains(list.UpdateIds, aws.ToString(id)) {
			t.Fatalf("ListUpdates: %v %+v", err, list)
		}
		_, err = sdk.UpdateClusterVersion(ctx, &awseks.UpdateClusterVersionInput{Name: aws.String("sdk-one"), Version: aws.String("1.37")})
		var invalid *types.InvalidParameterException
		if !errors.As(err, &invalid) {
			t.Fatalf("UpdateClusterVersion to the same version: %T %v", err, err)
		}
	})

	t.Run("DescribeClusterVersions", func(t *testing.T) {
		out, err := sdk.DescribeClusterVersions(ctx, &awseks.DescribeClusterVersionsInput{DefaultOnly: aws.Bool(true)})
		if err != nil || len(out.ClusterVersions) != 1 {
			t.Fatalf("DescribeClusterVersions: %v %+v", err, out)
		}
		v := out.ClusterVersions[0]
		if aws.ToString(v.ClusterVersion) != "1.37" || !v.DefaultVersion || v.VersionStatus != types.VersionStatusStandardSupport {
			t.Fatalf("version %+v", v)
		}
	})

	t.Run("typed errors", func(t *testing.T) {
		_, err := sdk.CreateCluster(ctx, &awseks.CreateClusterInput{
			Name: aws.String("bad.name"), RoleArn: aws.String("arn:aws:iam::000000000000:role/eks"),
			ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-a"}},
		})
		var invalid *types.InvalidParameterException
		if !errors.As(err, &invalid) {
			t.Errorf("bad name: %T %v", err, err)
		}
		_, err = sdk.CreateCluster(ctx, &awseks.CreateClusterInput{
			Name: aws.String("sdk-one"), Version: aws.String("1.37"), RoleArn: aws.String("arn:aws:iam::000000000000:role/eks"),
			ResourcesVpcConfig: &types.VpcConfigRequest{SubnetIds: []string{"subnet-a"}},
		})
		var inUse *types.ResourceInUseException
		if !errors.As(err, &inUse) {
			t.Errorf("duplicate: %T %v", err, err)
		}
		_, err = sdk.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String("nosuch")})
		var notFound *types.ResourceNotFoundException
		if !errors.As(err, &notFound) {
			t.Errorf("unknown cluster: %T %v", err, err)
		}
	})

	if _, err := sdk.DeleteCluster(ctx, &awseks.DeleteClusterInput{Name: aws.String("sdk-one")}); err != nil {
		t.Fatalf("DeleteCluster: %v", err)
	}
	waitGone(ctx, t, sdk, "sdk-one")
}

// sdkClient builds the official EKS client from the profile `cellplane up` wrote:
// endpoint_url, region and credentials come from it. aws-sdk-go-v2 does not read
// the profile's ca_bundle (the AWS CLI does), so the same CA file is passed as
// the SDK's custom CA bundle, as AWS_CA_BUNDLE would.
func sdkClient(t *testing.T, dataDir string) *awseks.Client {
	t.Helper()
	ep, err := datadir.ReadEndpoint(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(ep.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithCustomCABundle(bytes.NewReader(ca)),
		config.WithSharedConfigFiles([]string{datadir.AWSConfigFile(dataDir)}),
		config.WithSharedCredentialsFiles([]string{datadir.AWSCredentialsFile(dataDir)}),
		config.WithSharedConfigProfile(datadir.Profile))
	if err != nil {
		t.Fatalf("loading the generated profile: %v", err)
	}
	return awseks.NewFromConfig(cfg)
}

// forgedClient is the profile's client with other credentials.
func forgedClient(t *testing.T, dataDir, akid, secret string) *awseks.Client {
	t.Helper()
	sdk := sdkClient(t, dataDir)
	return awseks.New(sdk.Options(), func(o *awseks.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(akid, secret, "")
		o.RetryMaxAttempts = 1
	})
}

// TestSigV4Rejections: every request must be signed by a known key with its secret.
func TestSigV4Rejections(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	realKey, err := config.LoadSharedConfigProfile(ctx, datadir.Profile, func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles = []string{datadir.AWSConfigFile(in.DataDir)}
		o.CredentialsFiles = []string{datadir.AWSCredentialsFile(in.DataDir)}
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sdkClient(t, in.DataDir).ListClusters(ctx, &awseks.ListClustersInput{}); err != nil {
		t.Fatalf("signed with the generated profile: %v", err)
	}
	for _, tc := range []struct {
		name, akid, secret, want string
	}{
		{"wrong secret", realKey.Credentials.AccessKeyID, "not-the-secret", "InvalidSignatureException"},
		{"unknown key", "CPAKUNKNOWNUNKNOWN00", "whatever", "UnrecognizedClientException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := forgedClient(t, in.DataDir, tc.akid, tc.secret).ListClusters(ctx, &awseks.ListClustersInput{})
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tc.want {
				t.Fatalf("want %s, got %v", tc.want, err)
			}
		})
	}
	t.Run("expired", func(t *testing.T) {
		// Signed correctly but 20 minutes ago: outside the 15 minutes of skew allowed.
		sdk := sdkClient(t, in.DataDir)
		late := awseks.New(sdk.Options(), func(o *awseks.Options) {
			o.HTTPSignerV4 = skewedSigner{inner: v4.NewSigner(), by: -20 * time.Minute}
			o.AuthSchemes = nil // built from the signer: build them again
			o.RetryMaxAttempts = 1
		})
		_, err := late.ListClusters(ctx, &awseks.ListClustersInput{})
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidSignatureException" || !strings.Contains(apiErr.ErrorMessage(), "expired") {
			t.Fatalf("want InvalidSignatureException saying the signature expired, got %v", err)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		ep, err := datadir.ReadEndpoint(in.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		ca, _ := os.ReadFile(ep.CAFile)
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(ca)
		hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
		resp, err := hc.Get(ep.URL + "/clusters")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || resp.Header.Get("X-Amzn-Errortype") != "MissingAuthenticationTokenException" {
			t.Fatalf("unsigned request: %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-Errortype"))
		}
	})
}

func waitActive(ctx context.Context, t *testing.T, sdk *awseks.Client, name string) {
	t.Helper()
	err := framework.Eventually(ctx, 5*time.Minute, time.Second, func() error {
		out, err := sdk.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String(name)})
		switch {
		case err != nil:
			return err
		case out.Cluster.Status == types.ClusterStatusFailed:
			return framework.Permanent(fmt.Errorf("cluster %s FAILED", name))
		case out.Cluster.Status != types.ClusterStatusActive:
			return fmt.Errorf("cluster %s is %s", name, out.Cluster.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v", name, err)
	}
}

func waitGone(ctx context.Context, t *testing.T, sdk *awseks.Client, name string) {
	t.Helper()
	err := framework.Eventually(ctx, 5*time.Minute, time.Second, func() error {
		_, err := sdk.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String(name)})
		var notFound *types.ResourceNotFoundException
		if errors.As(err, &notFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return fmt.Errorf("cluster %s still exists", name)
	})
	if err != nil {
		t.Errorf("waiting for %s to go: %v", name, err)
	}
}

// skewedSigner signs as the SDK does, with a clock off by a fixed amount.
type skewedSigner struct {
	inner *v4.Signer
	by    time.Duration
}

func (s skewedSigner) SignHTTP(ctx context.Context, creds aws.Credentials, r *http.Request, payloadHash, service, region string,
	signingTime time.Time, optFns ...func(*v4.SignerOptions)) error {
	return s.inner.SignHTTP(ctx, creds, r, payloadHash, service, region, signingTime.Add(s.by), optFns...)
}

func tokenOrNil(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

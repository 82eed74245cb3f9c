package sigv4

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eks"
)

// TestVerifyEKSClient runs the real EKS client (serialization, path escaping,
// signing middleware) against the verifier, the way the aws CLI and Terraform
// reach the regional API. The SDK signs with the wall clock.
func TestVerifyEKSClient(t *testing.T) {
	rec := newRecorder(t, time.Now())
	client := eks.New(eks.Options{
		Region:           "region-1",
		BaseEndpoint:     aws.String(rec.URL),
		Credentials:      credentials.NewStaticCredentialsProvider(testCreds.AccessKeyID, testCreds.SecretAccessKey, ""),
		HTTPClient:       http.DefaultClient,
		RetryMaxAttempts: 1,
	})
	ctx := context.Background()
	calls := map[string]func() error{
		"ListTagsForResource (ARN in path)": func() error {
			_, err := client.ListTagsForResource(ctx, &eks.ListTagsForResourceInput{ResourceArn: aws.String(testARN)})
			return err
		},
		"UntagResource (repeated query keys)": func() error {
			_, err := client.UntagResource(ctx, &eks.UntagResourceInput{ResourceArn: aws.String(testARN), TagKeys: []string{"b", "a", "a c"}})
			return err
		},
		"ListClusters (query)": func() error {
			_, err := client.ListClusters(ctx, &eks.ListClustersInput{MaxResults: aws.Int32(10), NextToken: aws.String("a+b=/")})
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call()
			_, account, verr := rec.seen()
			if err != nil {
				t.Fatalf("call: %v (verifier: %v)", err, verr)
			}
			if account != testCreds.Account {
				t.Errorf("account = %q; want %q", account, testCreds.Account)
			}
		})
	}
	t.Run("TagResource (JSON body)", func(t *testing.T) {
		_, err := client.TagResource(ctx, &eks.TagResourceInput{ResourceArn: aws.String(testARN), Tags: map[string]string{"team": "platform"}})
		body, _, verr := rec.seen()
		if err != nil {
			t.Fatalf("call: %v (verifier: %v)", err, verr)
		}
		if !strings.Contains(body, `"team":"platform"`) {
			t.Errorf("next handler got body %q; want the tags", body)
		}
	})
}

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	ekstypes "github.com/aws/aws-sdk-go-v2/service/eks/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/test/framework"
)

// TestSecurityCustomerKey drives Secrets encryption the EKS way with the real
// aws-sdk-go-v2 KMS and EKS clients: a key from the region's key service
// given in CreateCluster's encryptionConfig names the keys etcd shows beside
// each Secret; AssociateEncryptionConfig binds an existing cluster; bad
// encryptionConfigs are refused with nothing stored; RotateKeyOnDemand
// reseals every Secret under the key's new generation and retires the old
// one. TestSecurityCustomerKeyDisabled disables a key.
func TestSecurityCustomerKey(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	sdk := sdkClient(t, in.DataDir)
	keys := kmsClient(t, in.DataDir)

	key, err := keys.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("e2e customer key")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	cmk, keyARN := aws.ToString(key.KeyMetadata.KeyId), aws.ToString(key.KeyMetadata.Arn)
	t.Logf("customer key %s", keyARN)
	checkBadEncryptionConfigs(ctx, t, sdk, keys, keyARN)

	const name, later = "cmk", "cmk-later"
	_, err = sdk.CreateCluster(ctx, createWithKey(name, encryptionConfig(keyARN)))
	if err != nil {
		t.Fatalf("CreateCluster with encryptionConfig: %v", err)
	}
	createActive(ctx, t, in, later) // created meanwhile, without a key
	waitActive(ctx, t, sdk, name)
	d, err := sdk.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String(name)})
	if err != nil || len(d.Cluster.EncryptionConfig) != 1 || aws.ToString(d.Cluster.EncryptionConfig[0].Provider.KeyArn) != keyARN {
		t.Fatalf("DescribeCluster shows encryptionConfig %+v (%v); want key %s", d.Cluster.EncryptionConfig, err, keyARN)
	}
	kc := kubeconfig(ctx, t, in, name)
	if _, err := kubectl(ctx, kc, "-n", "default", "create", "secret", "generic", "s1", "--from-literal=token="+secretMarker); err != nil {
		t.Fatal(err)
	}
	gen1 := cmk + "/1/"
	if k := keyID(checkSealedInEtcd(ctx, t, in, name, "s1")); !strings.HasPrefix(k, gen1) {
		t.Fatalf("etcd shows the Secret sealed under %q; want a key named %s...", k, gen1)
	}
	checkSecretReadable(ctx, t, kc, "s1")
	_, err = sdk.AssociateEncryptionConfig(ctx, &awseks.AssociateEncryptionConfigInput{ClusterName: aws.String(name), EncryptionConfig: encryptionConfig(keyARN)})
	if code := apiCode(err); code != "InvalidRequestException" {
		t.Errorf("a second AssociateEncryptionConfig: %v; want InvalidRequestException", err)
	}

	t.Run("associate with an existing cluster", func(t *testing.T) {
		checkAssociation(ctx, t, in, sdk, later, cmk, keyARN)
	})
	t.Run("rotate on demand", func(t *testing.T) {
		checkCustomerKeyRotation(ctx, t, in, keys, name, kc, cmk)
	})
}

// TestSecurityCustomerKeyDisabled: DisableKey is reported by the cluster,
// Secret writes fail once the API servers' data key ages out, and nothing
// is readable after they restart; EnableKey brings it all back. Most of its
// time is kube-apiserver's 3-minute data key cache running out, with the
// machine idle, so it runs in parallel with the suite's other parallel test
// (Go runs those after the rest, two at a time on two cores).
func TestSecurityCustomerKeyDisabled(t *testing.T) {
	t.Parallel()
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	sdk := sdkClient(t, in.DataDir)
	keys := kmsClient(t, in.DataDir)
	key, err := keys.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("e2e key to disable")})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	cmk, keyARN := aws.ToString(key.KeyMetadata.KeyId), aws.ToString(key.KeyMetadata.Arn)
	const name = "cmk-off"
	if _, err := sdk.CreateCluster(ctx, createWithKey(name, encryptionConfig(keyARN))); err != nil {
		t.Fatalf("CreateCluster with encryptionConfig: %v", err)
	}
	waitActive(ctx, t, sdk, name)
	kc := kubeconfig(ctx, t, in, name)
	if _, err := kubectl(ctx, kc, "-n", "default", "create", "secret", "generic", "s1", "--from-literal=token="+secretMarker); err != nil {
		t.Fatal(err)
	}
	checkSecretReadable(ctx, t, kc, "s1")
	checkDisabledKey(ctx, t, in, sdk, keys, name, kc, cmk, keyARN)
}

// kmsClient is the AWS SDK KMS client of the instance's profile: its
// endpoint_url is the regional API's, which serves the key service too.
func kmsClient(t *testing.T, dataDir string) *kms.Client {
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
		t.Fatal(err)
	}
	return kms.NewFromConfig(cfg)
}

// createWithKey is a CreateCluster request with the fields the SDK requires.
func createWithKey(name string, cfg []ekstypes.EncryptionConfig) *awseks.CreateClusterInput {
	return &awseks.CreateClusterInput{Name: aws.String(name), EncryptionConfig: cfg,
		RoleArn:            aws.String("arn:aws:iam::000000000000:role/eks"),
		ResourcesVpcConfig: &ekstypes.VpcConfigRequest{SubnetIds: []string{"subnet-a"}}}
}

func encryptionConfig(keyARN string) []ekstypes.EncryptionConfig {
	return []ekstypes.EncryptionConfig{{Resources: []string{"secrets"}, Provider: &ekstypes.Provider{KeyArn: aws.String(keyARN)}}}
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// checkBadEncryptionConfigs: every bad encryptionConfig is an
// InvalidParameterException, and no cluster is stored for it.
func checkBadEncryptionConfigs(ctx context.Context, t *testing.T, sdk *awseks.Client, keys *kms.Client, keyARN string) {
	t.Helper()
	off, err := keys.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("disabled")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.DisableKey(ctx, &kms.DisableKeyInput{KeyId: off.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	missing := keyARN[:strings.LastIndex(keyARN, "/")+1] + "00000000-0000-4000-8000-000000000000"
	otherAccount := strings.Replace(keyARN, ":"+v1alpha1.DefaultAccount+":", ":123456789012:", 1)
	for _, tc := range []struct {
		name string
		cfg  []ekstypes.EncryptionConfig
	}{
		{"cmk-bad-resource", []ekstypes.EncryptionConfig{{Resources: []string{"configmaps"}, Provider: &ekstypes.Provider{KeyArn: aws.String(keyARN)}}}},
		{"cmk-no-provider", []ekstypes.EncryptionConfig{{Resources: []string{"secrets"}}}},
		{"cmk-missing-key", encryptionConfig(missing)},
		{"cmk-other-account", encryptionConfig(otherAccount)},
		{"cmk-disabled-key", encryptionConfig(aws.ToString(off.KeyMetadata.Arn))},
		{"cmk-bare-key-id", encryptionConfig(keyARN[strings.LastIndex(keyARN, "/")+1:])},
	} {
		_, err := sdk.CreateCluster(ctx, createWithKey(tc.name, tc.cfg))
		if code := apiCode(err); code != "InvalidParameterException" {
			t.Errorf("CreateCluster %s: %v; want InvalidParameterException", tc.name, err)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
		if _, err := sdk.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String(tc.name)}); apiCode(err) != "ResourceNotFoundException" {
			t.Errorf("after a refused create, DescribeCluster %s: %v; want ResourceNotFoundException", tc.name, err)
		}
	}
}

// checkAssociation binds a running cluster to the key: the update becomes
// Successful once the cell sealed its Secrets under a key named after it.
func checkAssociation(ctx context.Context, t *testing.T, in *framework.Instance, sdk *awseks.Client, name, cmk, keyARN string) {
	kc := kubeconfig(ctx, t, in, name)
	if _, err := kubectl(ctx, kc, "-n", "default", "create", "secret", "generic", "s1", "--from-literal=token="+secretMarker); err != nil {
		t.Fatal(err)
	}
	before := keyID(checkSealedInEtcd(ctx, t, in, name, "s1"))
	start := time.Now()
	out, err := sdk.AssociateEncryptionConfig(ctx, &awseks.AssociateEncryptionConfigInput{ClusterName: aws.String(name),
		EncryptionConfig: encryptionConfig(keyARN), ClientRequestToken: aws.String("cmk-associate")})
	if err != nil {
		t.Fatalf("AssociateEncryptionConfig: %v", err)
	}
	if out.Update.Type != ekstypes.UpdateTypeAssociateEncryptionConfig {
		t.Errorf("update type %s", out.Update.Type)
	}
	err = framework.Eventually(ctx, 3*time.Minute, time.Second, func() error {
		u, err := sdk.DescribeUpdate(ctx, &awseks.DescribeUpdateInput{Name: aws.String(name), UpdateId: out.Update.Id})
		if err != nil {
			return err
		}
		if u.Update.Status != ekstypes.UpdateStatusSuccessful {
			return fmt.Errorf("update is %s", u.Update.Status)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the association did not finish: %v\ncell log:\n%s", err, cellLog(t, in))
	}
	t.Logf("association Successful after %s", time.Since(start).Round(100*time.Millisecond))
	if k := keyID(checkSealedInEtcd(ctx, t, in, name, "s1")); !strings.HasPrefix(k, cmk+"/") || k == before {
		t.Errorf("after association etcd shows the Secret under %q (before %q); want a key named after %s", k, before, cmk)
	}
	checkSecretReadable(ctx, t, kc, "s1")
}

// checkCustomerKeyRotation rotates the customer key: etcd then shows the
// Secret under the key's generation 2 and the cluster holds that key alone.
func checkCustomerKeyRotation(ctx context.Context, t *testing.T, in *framework.Instance, keys *kms.Client, name, kc, cmk string) {
	start := time.Now()
	if _, err := keys.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(cmk)}); err != nil {
		t.Fatalf("RotateKeyOnDemand: %v", err)
	}
	gen2 := cmk + "/2/"
	var sealedUnder string
	err := framework.Eventually(ctx, 3*time.Minute, time.Second, func() error {
		sealedUnder = keyID(etcdValue(ctx, t, in, name, "/registry/secrets/default/s1"))
		c := condition(describe(ctx, t, in, name), v1alpha1.ConditionSecretsEncryption)
		if !strings.HasPrefix(sealedUnder, gen2) || c == nil || !strings.Contains(c.Message, sealedUnder+" (1 keys held)") {
			return fmt.Errorf("the Secret is sealed under %q; %s = %+v", sealedUnder, v1alpha1.ConditionSecretsEncryption, c)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the rotation did not finish: %v\ncell log:\n%s", err, cellLog(t, in))
	}
	t.Logf("rotation done after %s: Secret under %s, the old key retired", time.Since(start).Round(100*time.Millisecond), sealedUnder)
	checkSealedInEtcd(ctx, t, in, name, "s1")
	checkSecretReadable(ctx, t, kc, "s1")
}

// checkDisabledKey disables the key: DescribeCluster reports KmsKeyDisabled
// at once and the cell's condition says so; writes fail once the API
// servers' data key ages out (kube-apiserver allows writes with its cached
// data key for 3 minutes after the plugin last answered healthy under that
// key ID); after the API servers restart nothing is readable. EnableKey
// brings reads and writes back.
func checkDisabledKey(ctx context.Context, t *testing.T, in *framework.Instance, sdk *awseks.Client, keys *kms.Client, name, kc, cmk, keyARN string) {
	disabledAt := time.Now()
	if _, err := keys.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	enabled := false
	t.Cleanup(func() {
		if !enabled {
			_, _ = keys.EnableKey(context.Background(), &kms.EnableKeyInput{KeyId: aws.String(cmk)})
		}
	})
	// DescribeCluster reads the region's cache, a few milliseconds behind
	// the copy DisableKey made.
	err := framework.Eventually(ctx, 10*time.Second, 100*time.Millisecond, func() error {
		d, err := sdk.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String(name)})
		if err != nil {
			return err
		}
		if d.Cluster.Health == nil || !hasIssue(d.Cluster.Health.Issues, ekstypes.ClusterIssueCodeKmsKeyDisabled) {
			return fmt.Errorf("health = %+v", d.Cluster.Health)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after DisableKey DescribeCluster does not report KmsKeyDisabled: %v", err)
	}
	t.Logf("KmsKeyDisabled reported %s after DisableKey", time.Since(disabledAt).Round(time.Millisecond))
	err = framework.Eventually(ctx, time.Minute, time.Second, func() error {
		c := condition(describe(ctx, t, in, name), v1alpha1.ConditionSecretsEncryption)
		if c == nil || c.Status != "False" || c.Reason != v1alpha1.ReasonKeyDisabled {
			return fmt.Errorf("%s = %+v", v1alpha1.ConditionSecretsEncryption, c)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the cell does not report the disabled key: %v", err)
	}
	writes := 0
	err = framework.Eventually(ctx, 5*time.Minute, 5*time.Second, func() error {
		writes++
		_, err := kubectl(ctx, kc, "-n", "default", "create", "secret", "generic", fmt.Sprintf("w%d", writes), "--from-literal=token="+secretMarker)
		if err == nil {
			return fmt.Errorf("write %d succeeded", writes)
		}
		if msg := strings.ToLower(err.Error()); !strings.Contains(msg, "kms") && !strings.Contains(msg, "expired") {
			return fmt.Errorf("write %d failed for another reason: %w", writes, err)
		}
		t.Logf("write %d refused %s after DisableKey: %v", writes, time.Since(disabledAt).Round(time.Second), err)
		return nil
	})
	if err != nil {
		t.Fatalf("Secret writes still succeed 5 minutes after DisableKey: %v", err)
	}
	for i := range 4 { // both API servers, through the endpoint
		if _, err := kubectl(ctx, kc, "-n", "default", "create", "secret", "generic", fmt.Sprintf("x%d", i), "--from-literal=token="+secretMarker); err == nil {
			t.Fatalf("a Secret write succeeded after one was refused with the key disabled")
		}
	}

	pids := clusterPIDs(ctx, t, in, name)
	for _, api := range []string{"kube-apiserver-a", "kube-apiserver-b"} {
		if err := syscall.Kill(pids[api], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	err = framework.Eventually(ctx, 2*time.Minute, time.Second, func() error {
		if _, err := kubectl(ctx, kc, "get", "namespaces"); err != nil {
			return err
		}
		cl, err := describeFull(ctx, in, name)
		if err != nil {
			return err
		}
		now, err := pidsOf(cl)
		if err != nil {
			return err
		}
		for _, api := range []string{"kube-apiserver-a", "kube-apiserver-b"} {
			if now[api] == pids[api] || !alive(now[api]) {
				return fmt.Errorf("%s not restarted yet", api)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the API servers did not come back: %v", err)
	}
	for range 4 { // both API servers, through the endpoint
		out, err := kubectl(ctx, kc, "-n", "default", "get", "secret", "s1", "-o", "jsonpath={.data.token}")
		if err == nil || strings.Contains(out, "Y2VsbHBsYW5l") {
			t.Fatalf("after the restart with the key disabled the Secret reads %q (%v)", out, err)
		}
		t.Logf("read refused: %v", err)
	}

	if _, err := keys.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(cmk)}); err != nil {
		t.Fatalf("EnableKey: %v", err)
	}
	enabled = true
	start := time.Now()
	err = framework.Eventually(ctx, 3*time.Minute, 2*time.Second, func() error {
		out, err := kubectl(ctx, kc, "-n", "default", "get", "secret", "s1", "-o", "jsonpath={.data.token}")
		if err != nil {
			return err
		}
		if strings.TrimSpace(out) == "" {
			return fmt.Errorf("empty read")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("after EnableKey the Secret stays unreadable: %v\ncell log:\n%s", err, cellLog(t, in))
	}
	t.Logf("readable again %s after EnableKey", time.Since(start).Round(time.Second))
	checkSecretReadable(ctx, t, kc, "s1")
	if _, err := kubectl(ctx, kc, "-n", "default", "create", "secret", "generic", "after-enable", "--from-literal=token="+secretMarker); err != nil {
		t.Fatalf("a write after EnableKey: %v", err)
	}
	err = framework.Eventually(ctx, 30*time.Second, time.Second, func() error {
		d, err := sdk.DescribeCluster(ctx, &awseks.DescribeClusterInput{Name: aws.String(name)})
		if err != nil {
			return err
		}
		if hasIssue(d.Cluster.Health.Issues, ekstypes.ClusterIssueCodeKmsKeyDisabled) {
			return fmt.Errorf("health = %+v", d.Cluster.Health)
		}
		return nil
	})
	if err != nil {
		t.Errorf("after EnableKey DescribeCluster still reports the key disabled: %v", err)
	}
}

func hasIssue(issues []ekstypes.ClusterIssue, code ekstypes.ClusterIssueCode) bool {
	for _, i := range issues {
		if i.Code == code {
			return true
		}
	}
	return false
}

package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/smithy-go"

	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/test/framework"
)

// TestAccessKeyLifecycle: an account's keys are created, listed, deactivated
// (refused within a second, though the API had them cached), activated,
// rotated and deleted through the CLI, and every bad input is refused with
// a clear error and changes nothing.
func TestAccessKeyLifecycle(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	cli := keyCLI{t: t, in: in, ctx: ctx}
	acct := cli.createAccount("keys-a")
	t.Cleanup(func() { _, _, _ = in.CLI(context.Background(), "account", "delete", acct.Account) })
	other := cli.createAccount("keys-b")
	t.Cleanup(func() { _, _, _ = in.CLI(context.Background(), "account", "delete", other.Account) })

	first := forgedClient(t, in.DataDir, acct.AccessKeyID, acct.SecretAccessKey)
	for range 3 { // cached by the API from here on
		if _, err := first.ListClusters(ctx, &awseks.ListClustersInput{}); err != nil {
			t.Fatalf("new account's key: %v", err)
		}
	}

	var second createdKey
	cli.json(&struct {
		AccessKey *createdKey `json:"accessKey"`
	}{&second}, "account", "key", "create", acct.Account)
	if keys := cli.list(acct.Account); len(keys) != 2 || keys[second.AccessKeyID] != "Active" {
		t.Fatalf("keys after create: %v", keys)
	}

	cli.run("account", "key", "deactivate", acct.Account, acct.AccessKeyID)
	took := refusedWithin(ctx, t, first, time.Second)
	t.Logf("deactivated key refused %s after the command returned", took.Round(time.Millisecond))
	if keys := cli.list(acct.Account); keys[acct.AccessKeyID] != "Inactive" {
		t.Fatalf("keys after deactivate: %v", keys)
	}
	if _, err := forgedClient(t, in.DataDir, second.AccessKeyID, second.SecretAccessKey).ListClusters(ctx, &awseks.ListClustersInput{}); err != nil {
		t.Fatalf("the account's other key stopped working: %v", err)
	}
	cli.run("account", "key", "activate", acct.Account, acct.AccessKeyID)
	if err := framework.Eventually(ctx, time.Second, 20*time.Millisecond, func() error {
		_, err := first.ListClusters(ctx, &awseks.ListClustersInput{})
		return err
	}); err != nil {
		t.Fatalf("activated key: %v", err)
	}

	cli.run("account", "key", "delete", acct.Account, second.AccessKeyID)
	var rot struct {
		New createdKey `json:"newAccessKey"`
	}
	cli.json(&rot, "account", "key", "rotate", acct.Account, acct.AccessKeyID)
	refusedWithin(ctx, t, first, time.Second)
	rotated := forgedClient(t, in.DataDir, rot.New.AccessKeyID, rot.New.SecretAccessKey)
	if _, err := rotated.ListClusters(ctx, &awseks.ListClustersInput{}); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if keys := cli.list(acct.Account); len(keys) != 2 || keys[acct.AccessKeyID] != "Inactive" || keys[rot.New.AccessKeyID] != "Active" {
		t.Fatalf("keys after rotate: %v", keys)
	}

	profileKey, err := datadir.ProfileAccessKeyID(in.DataDir)
	if err != nil || profileKey == "" {
		t.Fatalf("profile key %q: %v", profileKey, err)
	}
	before := map[string]map[string]string{acct.Account: cli.list(acct.Account), other.Account: cli.list(other.Account),
		"000000000000": cli.list("000000000000")}
	for _, bad := range []struct {
		args []string
		want string
	}{
		{[]string{"account", "key", "create"}, "needs exactly one account ID"},
		{[]string{"account", "key", "create", "12"}, "must be 12 digits"},
		{[]string{"account", "key", "create", "999999999999"}, "not found"},
		{[]string{"account", "key", "create", acct.Account}, "the most it may have"},
		{[]string{"account", "key", "list", "nope"}, "must be 12 digits"},
		{[]string{"account", "key", "deactivate", acct.Account}, "needs an account ID and an access key ID"},
		{[]string{"account", "key", "deactivate", acct.Account, "AKIAIOSFODNN7EXAMPLE"}, "must be CPAK"},
		{[]string{"account", "key", "deactivate", other.Account, rot.New.AccessKeyID}, "not found"},
		{[]string{"account", "key", "delete", other.Account, rot.New.AccessKeyID}, "not found"},
		{[]string{"account", "key", "rotate", acct.Account, acct.AccessKeyID}, "Inactive already"},
		{[]string{"account", "key", "deactivate", "000000000000", profileKey}, "rotate it instead"},
		{[]string{"account", "key", "delete", "000000000000", profileKey}, "rotate it instead"},
		{[]string{"account", "key", "frob"}, "unknown command"},
		{[]string{"account", "key", "list", acct.Account, "-o", "yaml"}, "--output must be table or json"},
	} {
		_, errOut, err := in.CLI(ctx, bad.args...)
		if err == nil || !strings.Contains(errOut, bad.want) {
			t.Errorf("%v: err %v, stderr %q; want an error saying %q", bad.args, err, errOut, bad.want)
		}
	}
	for id, keys := range before {
		if now := cli.list(id); !equalKeys(now, keys) {
			t.Errorf("bad input changed the keys of %s: %v, were %v", id, now, keys)
		}
	}
	if _, err := sdkClient(t, in.DataDir).ListClusters(ctx, &awseks.ListClustersInput{}); err != nil {
		t.Fatalf("the profile stopped working: %v", err)
	}
}

// TestRequestScope: a request signed for another region, or addressed to
// another host, is refused with the errors the AWS SDKs know.
func TestRequestScope(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	sdk := sdkClient(t, in.DataDir)
	elsewhere := awseks.New(sdk.Options(), func(o *awseks.Options) { o.Region = "us-west-2"; o.RetryMaxAttempts = 1 })
	_, err := elsewhere.ListClusters(ctx, &awseks.ListClustersInput{})
	var apiErr smithy.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidSignatureException" ||
		!strings.Contains(apiErr.ErrorMessage(), "Credential should be scoped to a valid region, not 'us-west-2'") {
		t.Fatalf("signed for us-west-2: %v; want InvalidSignatureException about the region", err)
	}

	ep, err := datadir.ReadEndpoint(in.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(ep.URL, "https://")
	_, port, _ := net.SplitHostPort(addr)
	// The certificate names localhost: the client trusts the server, the
	// server must still refuse a request addressed to another name.
	renamed := awseks.New(sdk.Options(), func(o *awseks.Options) {
		o.BaseEndpoint = aws.String("https://localhost:" + port)
		o.RetryMaxAttempts = 1
		base := o.HTTPClient.(interface{ GetTransport() *http.Transport })
		tr := base.GetTransport().Clone()
		tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
		o.HTTPClient = &http.Client{Transport: tr}
	})
	_, err = renamed.ListClusters(ctx, &awseks.ListClustersInput{})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidSignatureException" || !strings.Contains(apiErr.ErrorMessage(), "not this API's address") {
		t.Fatalf("addressed to localhost: %v; want InvalidSignatureException about the host", err)
	}
}

// refusedWithin polls c until the API refuses its key and fails t if that
// takes longer than limit.
func refusedWithin(ctx context.Context, t *testing.T, c *awseks.Client, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	err := framework.Eventually(ctx, limit, 10*time.Millisecond, func() error {
		_, err := c.ListClusters(ctx, &awseks.ListClustersInput{})
		if code(err) == "UnrecognizedClientException" {
			return nil
		}
		return errors.New("key still accepted")
	})
	if err != nil {
		t.Fatalf("key not refused within %s: %v", limit, err)
	}
	return time.Since(start)
}

type keyCLI struct {
	t   *testing.T
	in  *framework.Instance
	ctx context.Context
}

func (c keyCLI) run(args ...string) string {
	c.t.Helper()
	out, errOut, err := c.in.CLI(c.ctx, args...)
	if err != nil {
		c.t.Fatalf("%v: %v\n%s", args, err, errOut)
	}
	return out
}

func (c keyCLI) json(v any, args ...string) {
	c.t.Helper()
	out := c.run(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		c.t.Fatalf("%v output: %v\n%s", args, err, out)
	}
}

func (c keyCLI) createAccount(name string) createdKey {
	c.t.Helper()
	var created struct {
		AccessKey createdKey `json:"accessKey"`
	}
	c.json(&created, "account", "create", name)
	return created.AccessKey
}

// list maps the account's keys to their status.
func (c keyCLI) list(account string) map[string]string {
	c.t.Helper()
	var out struct {
		AccessKeys []struct{ AccessKeyID, Status string }
	}
	c.json(&out, "account", "key", "list", account)
	keys := map[string]string{}
	for _, k := range out.AccessKeys {
		keys[k.AccessKeyID] = k.Status
	}
	return keys
}

func equalKeys(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cellplane/cellplane/internal/keycache"
	"github.com/cellplane/cellplane/internal/ratelimit"
	"github.com/cellplane/cellplane/internal/sigv4"
)

var (
	guardA = sigv4.Credentials{AccessKeyID: "CPAKGUARDAGUARDAGUAR", SecretAccessKey: "secret-a", Account: "100000000001"}
	guardB = sigv4.Credentials{AccessKeyID: "CPAKGUARDBGUARDBGUAR", SecretAccessKey: "secret-b", Account: "100000000002"}
)

// guarded serves the API behind a real verifier and limiter, with the region
// and host set as the service sets them.
func guarded(t *testing.T, limits ratelimit.Config) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	u := "http://" + srv.Listener.Addr().String()
	h, err := NewHandler(Config{
		Client: env.Client(t), Placer: StaticPlacer{Cell: "cell-1"}, Region: "local",
		Verifier: &sigv4.Verifier{Keys: sigv4.StaticKeys{guardA.AccessKeyID: guardA, guardB.AccessKeyID: guardB},
			Region: "local", Hosts: []string{srv.Listener.Addr().String()}},
		Limiter: ratelimit.New(limits),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	return u
}

func sdkFor(endpoint string, c sigv4.Credentials, region string) *awseks.Client {
	return awseks.New(awseks.Options{
		Region: region, BaseEndpoint: aws.String(endpoint), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, ""),
	})
}

// One account's burst is throttled with the error the SDKs retry, and the
// other account is not touched by it.
func TestAccountRateLimit(t *testing.T) {
	u := guarded(t, ratelimit.Config{AccountRate: 0.01, AccountBurst: 5, SourceRate: 1000, SourceBurst: 1000})
	ctx := context.Background()
	a, b := sdkFor(u, guardA, "local"), sdkFor(u, guardB, "local")
	var throttled []error
	for range 20 {
		if _, err := a.ListClusters(ctx, &awseks.ListClustersInput{}); err != nil {
			throttled = append(throttled, err)
		}
	}
	if len(throttled) != 15 {
		t.Fatalf("%d of 20 requests throttled; want 15 (burst 5): %v", len(throttled), throttled)
	}
	err := throttled[0]
	var apiErr smithy.APIError
	var resp *smithyhttp.ResponseError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "ThrottlingException" || !errors.As(err, &resp) || resp.HTTPStatusCode() != http.StatusTooManyRequests {
		t.Fatalf("throttled with %v; want ThrottlingException, 429", err)
	}
	if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
		t.Fatalf("the SDK does not take %v for throttling, so it would not back off", err)
	}
	for range 5 {
		if _, err := b.ListClusters(ctx, &awseks.ListClustersInput{}); err != nil {
			t.Fatalf("account b slowed by a's burst: %v", err)
		}
	}
}

// A source over its rate is refused before its signature is looked at.
func TestSourceRateLimit(t *testing.T) {
	u := guarded(t, ratelimit.Config{SourceRate: 0.01, SourceBurst: 3})
	ctx := context.Background()
	unknown := sdkFor(u, sigv4.Credentials{AccessKeyID: "CPAKUNKNOWNUNKNOWN00", SecretAccessKey: "x"}, "local")
	codes := map[string]int{}
	for range 6 {
		_, err := unknown.ListClusters(ctx, &awseks.ListClustersInput{})
		var apiErr smithy.APIError
		if errors.As(err, &apiErr) {
			codes[apiErr.ErrorCode()]++
		}
	}
	if codes["UnrecognizedClientException"] != 3 || codes["ThrottlingException"] != 3 {
		t.Fatalf("answers %v; want 3 UnrecognizedClientException, then 3 ThrottlingException", codes)
	}
}

// The scope's region and the Host must be this API's, and an unknown key is
// told nothing about why.
func TestScopeAndHost(t *testing.T) {
	u := guarded(t, ratelimit.Default())
	ctx := context.Background()
	check := func(c *awseks.Client, code, msg string) {
		t.Helper()
		_, err := c.ListClusters(ctx, &awseks.ListClustersInput{})
		var apiErr smithy.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode() != code || !strings.Contains(apiErr.ErrorMessage(), msg) {
			t.Fatalf("error = %v; want %s with %q", err, code, msg)
		}
	}
	check(sdkFor(u, guardA, "us-west-2"), "InvalidSignatureException", "Credential should be scoped to a valid region, not 'us-west-2'")
	check(sdkFor(u, sigv4.Credentials{AccessKeyID: "CPAKUNKNOWNUNKNOWN00", SecretAccessKey: "x"}, "local"),
		"UnrecognizedClientException", "The security token included in the request is invalid.")

	parsed, _ := url.Parse(u)
	other := awseks.New(awseks.Options{
		Region: "local", BaseEndpoint: aws.String("http://api.elsewhere.test:" + parsed.Port()), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(guardA.AccessKeyID, guardA.SecretAccessKey, ""),
		HTTPClient: &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, parsed.Host)
		}}},
	})
	check(other, "InvalidSignatureException", "not this API's address")
}

// countingKeys counts the lookups that reach the key store.
type countingKeys struct {
	sigv4.KeyStore
	reads atomic.Int64
}

func (c *countingKeys) Lookup(ctx context.Context, akid string) (sigv4.Credentials, error) {
	c.reads.Add(1)
	return c.KeyStore.Lookup(ctx, akid)
}

// benchmarkGuard sends signed DescribeClusterVersions requests (answered
// without the store) through the whole handler (source limit, verifier over
// the key cache, account limit) and reports how many key lookups reached the
// key store per request.
func benchmarkGuard(b *testing.B, creds sigv4.Credentials, wantCode string) {
	store := &countingKeys{KeyStore: sigv4.StaticKeys{guardA.AccessKeyID: guardA}}
	srv := httptest.NewUnstartedServer(nil)
	h, err := NewHandler(Config{
		Client: env.Client(b), Placer: StaticPlacer{Cell: "cell-1"}, Region: "local",
		Verifier: &sigv4.Verifier{Keys: keycache.New(keycache.Config{Store: store}), Region: "local", Hosts: []string{srv.Listener.Addr().String()}},
		Limiter:  ratelimit.New(ratelimit.Config{AccountRate: 1e9, AccountBurst: 1e9, SourceRate: 1e9, SourceBurst: 1e9}),
	})
	if err != nil {
		b.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	b.Cleanup(srv.Close)
	c := sdkFor("http://"+srv.Listener.Addr().String(), creds, "local")
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			_, err := c.DescribeClusterVersions(ctx, &awseks.DescribeClusterVersionsInput{})
			var apiErr smithy.APIError
			if (wantCode == "" && err != nil) || (wantCode != "" && (!errors.As(err, &apiErr) || apiErr.ErrorCode() != wantCode)) {
				b.Errorf("DescribeClusterVersions: %v; want %q", err, wantCode)
				return
			}
		}
	})
	b.ReportMetric(float64(store.reads.Load())/float64(b.N), "store-reads/op")
}

// go test -run '^$' -bench Guard ./internal/region/api/
func BenchmarkGuardUnknownKey(b *testing.B) {
	benchmarkGuard(b, sigv4.Credentials{AccessKeyID: "CPAKUNKNOWNUNKNOWN00", SecretAccessKey: "x"}, "UnrecognizedClientException")
}

func BenchmarkGuardKnownKey(b *testing.B) { benchmarkGuard(b, guardA, "") }

package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"k8s.io/client-go/rest"

	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/test/framework"
)

// The regional API under abuse, on an instance of the test's own: its
// timeouts lowered to a second so the test need not wait two minutes for an
// idle connection, and its rate limits set so a test can cross them.
const (
	abuseTimeout      = time.Second
	abuseAccountRate  = 5
	abuseAccountBurst = 10
	abuseSourceRate   = 100
	abuseSourceBurst  = 500
)

func TestAPIUnderAbuse(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.Args = []string{
		"--api-idle-timeout", abuseTimeout.String(), "--api-read-header-timeout", abuseTimeout.String(),
		"--api-account-rate", strconv.Itoa(abuseAccountRate), "--api-account-burst", strconv.Itoa(abuseAccountBurst),
		"--api-source-rate", strconv.Itoa(abuseSourceRate), "--api-source-burst", strconv.Itoa(abuseSourceBurst),
	}
	in.Start(ctx)
	api := newAPIAbuser(t, in)

	t.Run("idle connection closed after the idle timeout", func(t *testing.T) {
		conn := api.dialTLS(t)
		api.roundTrip(t, conn) // an unsigned request: answered, and the connection kept alive
		waited := api.waitClosed(t, conn, 10*time.Second)
		if waited < abuseTimeout/2 || waited > abuseTimeout+2*time.Second {
			t.Fatalf("idle connection closed after %s; want about %s", waited, abuseTimeout)
		}
	})
	t.Run("silent connection closed", func(t *testing.T) {
		conn, err := net.DialTimeout("tcp", api.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if waited := api.waitClosed(t, conn, 10*time.Second); waited > abuseTimeout+2*time.Second {
			t.Fatalf("a connection that sent nothing was kept %s", waited)
		}
	})
	t.Run("slow header cut off", func(t *testing.T) {
		conn := api.dialTLS(t)
		start := time.Now()
		closed := make(chan struct{})
		go func() { _, _ = io.Copy(io.Discard, conn); close(closed) }()
		if _, err := fmt.Fprintf(conn, "GET /clusters HTTP/1.1\r\nHost: %s\r\n", api.addr); err != nil {
			t.Fatal(err)
		}
		// A header line every 100 ms, never the blank line that ends them.
		sent := 0
	trickle:
		for time.Since(start) < 10*time.Second {
			select {
			case <-closed:
				break trickle
			case <-time.After(100 * time.Millisecond):
				if _, err := fmt.Fprintf(conn, "X-Slow-%d: x\r\n", sent); err != nil {
					break trickle
				}
				sent++
			}
		}
		<-closed
		if waited := time.Since(start); waited > abuseTimeout+2*time.Second {
			t.Fatalf("trickled headers for %s (%d lines) before the server cut the connection", waited, sent)
		}
		t.Logf("cut off after %d header lines, %s", sent, time.Since(start).Round(time.Millisecond))
	})
	t.Run("10,000 unknown-key requests read no key from the store", func(t *testing.T) {
		unknown := make([]string, 10)
		for i := range unknown {
			unknown[i] = "CPAKNEVERISSUEDKEY" + string(rune('A'+i/8)) + string(rune('A'+i%8))
		}
		// Each key once: one read each, which shows the counter sees the API's reads.
		before := api.secretReads(ctx, t)
		for _, k := range unknown {
			api.expectCode(ctx, t, api.client("1", k, "x"), "UnrecognizedClientException")
		}
		warm := api.secretReads(ctx, t) - before
		if warm < len(unknown) {
			t.Fatalf("the first request of each of %d unknown keys read %d secrets; the counter does not see the API's reads", len(unknown), warm)
		}
		// 10,000 more from 20 sources, each within its burst.
		before = api.secretReads(ctx, t)
		codes := api.flood(ctx, t, 20, 500, func(src, i int) *awseks.Client {
			return api.client(fmt.Sprintf("%d", 10+src), unknown[i%len(unknown)], "x")
		})
		if codes["UnrecognizedClientException"] != 10_000 {
			t.Fatalf("answers %v; want 10000 UnrecognizedClientException", codes)
		}
		if reads := api.secretReads(ctx, t) - before; reads != 0 {
			t.Fatalf("10,000 requests with unknown keys read %d secrets from the region store; want 0", reads)
		}
	})
	t.Run("source flood throttled, other sources served", func(t *testing.T) {
		flooder := api.client("100", "CPAKNEVERISSUEDKEYZZ", "x")
		other := api.client("101", "CPAKNEVERISSUEDKEYZZ", "x")
		var throttled error
		for i := 0; i < 3*abuseSourceBurst && throttled == nil; i++ {
			_, err := flooder.ListClusters(ctx, &awseks.ListClustersInput{})
			if code(err) == "ThrottlingException" {
				throttled = err
			}
		}
		if throttled == nil {
			t.Fatalf("%d requests from one source were never throttled", 3*abuseSourceBurst)
		}
		api.expectCode(ctx, t, other, "UnrecognizedClientException")
	})
	t.Run("account burst throttled, other account not slowed", func(t *testing.T) {
		a, b := api.newAccount(ctx, t, "burst-a"), api.newAccount(ctx, t, "burst-b")
		noisy, quiet := api.client("110", a.AccessKeyID, a.SecretAccessKey), api.client("111", b.AccessKeyID, b.SecretAccessKey)
		var wg sync.WaitGroup
		var throttled []error
		wg.Go(func() {
			for range 4 * abuseAccountBurst {
				if _, err := noisy.ListClusters(ctx, &awseks.ListClustersInput{}); err != nil {
					throttled = append(throttled, err)
				}
			}
		})
		var quietErrs []error
		var slowest time.Duration
		for range abuseAccountBurst - 2 {
			start := time.Now()
			if _, err := quiet.ListClusters(ctx, &awseks.ListClustersInput{}); err != nil {
				quietErrs = append(quietErrs, err)
			}
			slowest = max(slowest, time.Since(start))
		}
		wg.Wait()
		if len(quietErrs) > 0 || slowest > 2*time.Second {
			t.Fatalf("the quiet account got %v, slowest request %s, while the other burst", quietErrs, slowest)
		}
		if len(throttled) == 0 {
			t.Fatalf("%d requests in a burst were never throttled", 4*abuseAccountBurst)
		}
		err := throttled[0]
		var resp *smithyhttp.ResponseError
		if code(err) != "ThrottlingException" || !errors.As(err, &resp) || resp.HTTPStatusCode() != http.StatusTooManyRequests {
			t.Fatalf("throttled with %v; want ThrottlingException, HTTP 429", err)
		}
		if retry.IsErrorThrottles(retry.DefaultThrottles).IsErrorThrottle(err) != aws.TrueTernary {
			t.Fatalf("aws-sdk-go-v2 does not take %v for throttling; it would not back off", err)
		}
		t.Logf("%d of %d throttled; the quiet account's slowest request took %s", len(throttled), 4*abuseAccountBurst, slowest.Round(time.Millisecond))
	})
	t.Run("rotating the first account's key keeps the profile working", func(t *testing.T) {
		old, err := datadir.ProfileAccessKeyID(in.DataDir)
		if err != nil || old == "" {
			t.Fatalf("profile key: %q, %v", old, err)
		}
		stale := sdkClient(t, in.DataDir)
		if _, err := stale.ListClusters(ctx, &awseks.ListClustersInput{}); err != nil {
			t.Fatal(err)
		}
		out, errOut, err := in.CLI(ctx, "account", "key", "rotate", "000000000000", old, "-o", "json")
		if err != nil {
			t.Fatalf("rotate: %v\n%s", err, errOut)
		}
		var rot struct {
			New struct{ AccessKeyID string } `json:"newAccessKey"`
		}
		if err := json.Unmarshal([]byte(out), &rot); err != nil || rot.New.AccessKeyID == "" {
			t.Fatalf("rotate output: %v\n%s", err, out)
		}
		if now, _ := datadir.ProfileAccessKeyID(in.DataDir); now != rot.New.AccessKeyID {
			t.Fatalf("profile holds %s after rotation; want %s", now, rot.New.AccessKeyID)
		}
		if _, err := sdkClient(t, in.DataDir).ListClusters(ctx, &awseks.ListClustersInput{}); err != nil {
			t.Fatalf("the rotated profile: %v", err)
		}
		if _, errOut, err := in.CLI(ctx, "cluster", "list"); err != nil {
			t.Fatalf("the CLI after rotation: %v\n%s", err, errOut)
		}
		api.expectCode(ctx, t, awseks.New(stale.Options(), func(o *awseks.Options) { o.RetryMaxAttempts = 1 }), "UnrecognizedClientException")
	})
}

// apiAbuser reaches one instance's regional API as an attacker would: over
// raw connections, and from many source addresses of the instance's block.
type apiAbuser struct {
	in    *framework.Instance
	addr  string
	url   string
	roots *x509.CertPool
	store *rest.Config
}

func newAPIAbuser(t *testing.T, in *framework.Instance) *apiAbuser {
	t.Helper()
	ep, err := datadir.ReadEndpoint(in.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(ep.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(ca)
	inst, err := datadir.LoadInstance(in.DataDir, "", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	block, err := inst.Block()
	if err != nil {
		t.Fatal(err)
	}
	return &apiAbuser{in: in, addr: strings.TrimPrefix(ep.URL, "https://"), url: ep.URL, roots: roots,
		store: datadir.RegionStore(in.DataDir, block)}
}

func (a *apiAbuser) dialTLS(t *testing.T) *tls.Conn {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", a.addr, &tls.Config{RootCAs: a.roots, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// roundTrip sends one unsigned request and reads its answer whole.
func (a *apiAbuser) roundTrip(t *testing.T, conn net.Conn) {
	t.Helper()
	if _, err := fmt.Fprintf(conn, "GET /clusters HTTP/1.1\r\nHost: %s\r\n\r\n", a.addr); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || resp.Close {
		t.Fatalf("unsigned request: %d, close %v; want 403 on a kept-alive connection", resp.StatusCode, resp.Close)
	}
}

// waitClosed reads until the server closes conn and says how long that took.
func (a *apiAbuser) waitClosed(t *testing.T, conn net.Conn, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	_ = conn.SetReadDeadline(start.Add(limit))
	_, err := conn.Read(make([]byte, 1))
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		t.Fatalf("the server kept the connection open for %s", limit)
	}
	return time.Since(start)
}

// client is an EKS client with the given key whose connections come from
// source address <block>.250.<host>, and which does not retry.
func (a *apiAbuser) client(host, akid, secret string) *awseks.Client {
	src := net.ParseIP(a.in.Block + ".250." + host)
	dialer := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: src}}
	return awseks.New(awseks.Options{
		Region: "local", BaseEndpoint: aws.String(a.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, ""),
		HTTPClient: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			DialContext: dialer.DialContext, TLSClientConfig: &tls.Config{RootCAs: a.roots}, MaxIdleConnsPerHost: 4,
		}},
	})
}

func code(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

func (a *apiAbuser) expectCode(ctx context.Context, t *testing.T, c *awseks.Client, want string) {
	t.Helper()
	if _, err := c.ListClusters(ctx, &awseks.ListClustersInput{}); code(err) != want {
		t.Fatalf("ListClusters: %v; want %s", err, want)
	}
}

// flood sends sources × each requests, a goroutine per source, and counts
// the answers by error code.
func (a *apiAbuser) flood(ctx context.Context, t *testing.T, sources, each int, client func(src, i int) *awseks.Client) map[string]int {
	t.Helper()
	var mu sync.Mutex
	codes := map[string]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for s := range sources {
		wg.Go(func() {
			mine := map[string]int{}
			clients := map[int]*awseks.Client{}
			for i := range each {
				c, ok := clients[i%10]
				if !ok {
					c = client(s, i)
					clients[i%10] = c
				}
				_, err := c.ListClusters(ctx, &awseks.ListClustersInput{})
				mine[code(err)]++
			}
			mu.Lock()
			defer mu.Unlock()
			for k, v := range mine {
				codes[k] += v
			}
		})
	}
	wg.Wait()
	t.Logf("%d requests in %s: %v", sources*each, time.Since(start).Round(time.Millisecond), codes)
	return codes
}

// secretReads sums the region store's answered GETs of Secrets, from its
// kube-apiserver's own request counter: every access key lookup that
// reaches the store is one.
func (a *apiAbuser) secretReads(ctx context.Context, t *testing.T) int {
	t.Helper()
	hc, err := rest.HTTPClientFor(a.store)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.store.Host+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	total := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") || !strings.Contains(line, `resource="secrets"`) || !strings.Contains(line, `verb="GET"`) {
			continue
		}
		fields := strings.Fields(line)
		n, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		total += int(n)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return total
}

// newAccount creates an account through the CLI and returns its first key.
func (a *apiAbuser) newAccount(ctx context.Context, t *testing.T, name string) createdKey {
	t.Helper()
	return createAccount(ctx, t, a.in, name)
}

package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awseks "github.com/aws/aws-sdk-go-v2/service/eks"
	"github.com/aws/aws-sdk-go-v2/service/eks/types"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/test/framework"
)

// TestUpgradeInPlace upgrades a 1.36 cluster to 1.37 while 8 clients read
// and write through its endpoint and an informer watches, kills cellplane
// (and its cell) with SIGKILL halfway through, and checks that the upgrade
// still finishes with no failed request, that the informer saw every write
// and that every component runs 1.37. It then rolls the cluster back to
// 1.36, which keeps every object written before and after the upgrade.
func TestUpgradeInPlace(t *testing.T) {
	ctx := ctxFor(t)
	from, to := release(t, "1.36"), components.Default()
	in := framework.NewInstance(t, bins)
	in.Start(ctx)
	createActiveWith(ctx, t, in, "up", "--version", from.Minor)
	kc := kubeconfig(ctx, t, in, "up")
	sdk := sdkClient(t, in.DataDir)
	before := createConfigMaps(ctx, t, kc, "before", 5)
	t.Logf("5 ConfigMaps written on %s, up to revision %d", from.Version, before)

	// Bad input changes nothing.
	for _, bad := range []struct{ version, want string }{
		{"1.38", "not supported"}, {"1.35", "one minor version at a time"}, {from.Minor, "already runs"},
	} {
		_, err := sdk.UpdateClusterVersion(ctx, &awseks.UpdateClusterVersionInput{Name: aws.String("up"), Version: aws.String(bad.version)})
		var invalid *types.InvalidParameterException
		if !errors.As(err, &invalid) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("UpdateClusterVersion to %s: %v, want InvalidParameterException saying %q", bad.version, err, bad.want)
		}
	}
	_, err := sdk.UpdateClusterVersion(ctx, &awseks.UpdateClusterVersionInput{Name: aws.String("up"), Version: aws.String(from.Minor),
		RollbackConfig: &types.RollbackConfig{}})
	if err == nil || !strings.Contains(err.Error(), "no upgrade to roll back") {
		t.Errorf("rollback before any upgrade: %v", err)
	}
	if _, errOut, err := in.CLI(ctx, "cluster", "upgrade", "up", "--version", "1.38"); err == nil || !strings.Contains(errOut, "not supported") {
		t.Errorf("cluster upgrade to 1.38: %v %q", err, errOut)
	}

	load, err := framework.StartLoad(ctx, kc, "load", 8)
	if err != nil {
		t.Fatal(err)
	}
	if err := load.Busy(ctx, 40); err != nil { // the clients are busy before the upgrade begins
		t.Fatal(err)
	}
	start := time.Now()
	out, err := sdk.UpdateClusterVersion(ctx, &awseks.UpdateClusterVersionInput{Name: aws.String("up"), Version: aws.String(to.Minor), ClientRequestToken: aws.String("up-1")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.Update.Id)
	if out.Update.Type != types.UpdateTypeVersionUpdate || out.Update.Status != types.UpdateStatusInProgress {
		t.Fatalf("update %+v", out.Update)
	}
	// A second update waits for the first.
	if _, err := sdk.UpdateClusterVersion(ctx, &awseks.UpdateClusterVersionInput{Name: aws.String("up"), Version: aws.String(to.Minor)}); err == nil {
		t.Error("a second version update was accepted while one runs")
	}

	// SIGKILL cellplane and its cell once the first API server moved, and
	// start them again: the rollout carries on from its record.
	waitFor(ctx, t, "the first API server to move", func() error {
		ro := describe(ctx, t, in, "up").Cellplane.Rollout
		if ro == nil || !slices.Contains(ro.Moved, "kube-apiserver-a") {
			return fmt.Errorf("rollout %+v", ro)
		}
		return nil
	})
	killed := describe(ctx, t, in, "up").Cellplane.Rollout
	t.Logf("killing cellplane at %s: %+v", time.Since(start).Round(time.Millisecond), *killed)
	killAll(t, in)
	in.Start(ctx)
	sdk = sdkClient(t, in.DataDir)

	done := waitVersionUpdate(ctx, t, in, sdk, "up", id, 5*time.Minute)
	took := time.Since(start)
	if done.Status != types.UpdateStatusSuccessful {
		t.Fatalf("update %s ended %s: %+v\ncell log:\n%s", id, done.Status, done.Errors, cellLog(t, in))
	}
	res := load.Stop(30 * time.Second)
	t.Logf("upgrade %s → %s took %s (with a kill of cellplane); %d requests, %d failed; %d writes, %d not seen by the informer",
		from.Version, to.Version, took.Round(time.Millisecond), res.Requests, len(res.Failures), res.Writes, len(res.Unseen))
	if len(res.Failures) > 0 {
		t.Errorf("%d requests failed during the upgrade, first %v", len(res.Failures), res.Failures[:min(5, len(res.Failures))])
	}
	if len(res.Unseen) > 0 {
		t.Errorf("the informer missed %d writes: %v", len(res.Unseen), res.Unseen[:min(5, len(res.Unseen))])
	}
	if res.Writes < 50 {
		t.Errorf("only %d writes during the upgrade: the load did not run", res.Writes)
	}
	c := describe(ctx, t, in, "up")
	if c.Version != to.Minor || c.Status != "ACTIVE" || c.Cellplane.KubernetesVersion != to.Version {
		t.Errorf("after the upgrade: version %s, status %s, running %s", c.Version, c.Status, c.Cellplane.KubernetesVersion)
	}
	if ro := c.Cellplane.Rollout; ro == nil || ro.RestorePointRevision < before || ro.UpdateID != id {
		t.Errorf("rollout %+v: want a restore point at revision %d or later", ro, before)
	}
	checkComponentVersions(ctx, t, kc, c, to.Version)
	// A retry of the request answers the same update.
	again, err := sdk.UpdateClusterVersion(ctx, &awseks.UpdateClusterVersionInput{Name: aws.String("up"), Version: aws.String(to.Minor), ClientRequestToken: aws.String("up-1")})
	if err != nil || aws.ToString(again.Update.Id) != id {
		t.Errorf("retry: %v %+v", err, again)
	}

	// Roll back: every object written before and after the upgrade stays.
	after := createConfigMaps(ctx, t, kc, "after", 5)
	// The CLI this time: it follows the rollback's progress with --wait.
	out2, errOut, err := in.CLI(ctx, "cluster", "rollback", "up", "--version", from.Minor, "--timeout-minutes", "120", "--wait", "--output", "json")
	if err != nil {
		t.Fatalf("cluster rollback: %v\n%s\ncell log:\n%s", err, errOut, cellLog(t, in))
	}
	var rb struct{ Update eks.Update }
	if err := json.Unmarshal([]byte(out2), &rb); err != nil || rb.Update.Type != "VersionRollback" || rb.Update.Status != "Successful" {
		t.Fatalf("rollback update %v %s", err, out2)
	}
	if !strings.Contains(errOut, "moving kube-apiserver-a back") && !strings.Contains(errOut, "to v1.36") {
		t.Errorf("cluster rollback --wait showed no progress: %q", errOut)
	}
	t.Logf("cluster rollback --wait:\n%s", errOut)
	c = describe(ctx, t, in, "up")
	if c.Version != from.Minor || c.Cellplane.KubernetesVersion != from.Version {
		t.Errorf("after the rollback: version %s, running %s", c.Version, c.Cellplane.KubernetesVersion)
	}
	checkComponentVersions(ctx, t, kc, c, from.Version)
	checkConfigMaps(ctx, t, kc, "before", 5)
	checkConfigMaps(ctx, t, kc, "after", 5)
	if n := strings.Count(kubectlOut(ctx, t, kc, "-n", "load", "get", "configmaps", "-o", "name"), "configmap/c"); n < res.Writes/2 {
		t.Errorf("%d of the load's ConfigMaps after the rollback, want the %d it wrote", n, res.Writes/2)
	}
	t.Logf("rollback kept the objects written up to revision %d", after)
}

// release is the offered release of minor.
func release(t *testing.T, minor string) components.Release {
	t.Helper()
	r, err := components.Lookup(minor)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitVersionUpdate waits for a version update to end, logging the cell's
// progress on it as it changes.
func waitVersionUpdate(ctx context.Context, t *testing.T, in *framework.Instance, sdk *awseks.Client, cluster, id string, within time.Duration) *types.Update {
	t.Helper()
	var last *types.Update
	seen := ""
	err := framework.Eventually(ctx, within, 500*time.Millisecond, func() error {
		out, err := sdk.DescribeUpdate(ctx, &awseks.DescribeUpdateInput{Name: aws.String(cluster), UpdateId: aws.String(id)})
		if err != nil {
			return err
		}
		last = out.Update
		if ro := describe(ctx, t, in, cluster).Cellplane.Rollout; ro != nil && ro.Message != seen {
			t.Logf("update %s: %s", id, ro.Message)
			seen = ro.Message
		}
		if last.Status == types.UpdateStatusInProgress {
			return fmt.Errorf("update %s in progress: %s", id, seen)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for update %s: %v", id, err)
	}
	return last
}

// checkComponentVersions asks every API server (/version), controller
// manager and scheduler (kubernetes_build_info in /metrics) for its version,
// as the cluster's admin.
func checkComponentVersions(ctx context.Context, t *testing.T, kc string, c *eks.Cluster, want string) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(cfg.CertData, cfg.KeyData)
	if err != nil {
		t.Fatal(err)
	}
	// The controllers serve self-signed certificates; only the version is
	// checked here, over loopback.
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		Certificates: []tls.Certificate{cert}, InsecureSkipVerify: true, //nolint:gosec // G402: self-signed controller certificates on loopback
	}}}
	build := regexp.MustCompile(`kubernetes_build_info\{[^}]*git_version="([^"]+)"`)
	checked := 0
	for _, comp := range c.Cellplane.Components {
		kind := comp.Name[:strings.LastIndex(comp.Name, "-")]
		var got string
		switch kind {
		case "kube-apiserver":
			var v struct{ GitVersion string }
			body := getBody(ctx, t, hc, "https://"+comp.Address+"/version")
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Fatalf("%s /version: %v: %s", comp.Name, err, body)
			}
			got = v.GitVersion
		case "kube-controller-manager", "kube-scheduler":
			m := build.FindStringSubmatch(getBody(ctx, t, hc, "https://"+comp.Address+"/metrics"))
			if m == nil {
				t.Fatalf("%s reports no kubernetes_build_info", comp.Name)
			}
			got = m[1]
		default:
			continue
		}
		checked++
		if got != want {
			t.Errorf("%s reports %s, want %s", comp.Name, got, want)
		}
	}
	if checked != 6 {
		t.Errorf("checked %d components, want 6 (two API servers, controller managers and schedulers)", checked)
	}
}

func getBody(ctx context.Context, t *testing.T, hc *http.Client, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	var b strings.Builder
	sc := bufio.NewScanner(io.LimitReader(resp.Body, 8<<20))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		b.WriteString(sc.Text())
		b.WriteByte('\n')
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %.300s", url, resp.Status, b.String())
	}
	return b.String()
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/operator"
	"github.com/cellplane/cellplane/test/framework"
)

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// createActive creates a cluster through the CLI with --wait and returns it.
func createActive(ctx context.Context, t *testing.T, in *framework.Instance, name string) *eks.Cluster {
	t.Helper()
	out, errOut, err := in.CLI(ctx, "cluster", "create", name, "--wait", "--output", "json")
	if err != nil {
		t.Fatalf("cluster create %s: %v\n%s\ncellplane log:\n%s", name, err, errOut, in.Log())
	}
	var resp struct{ Cluster *eks.Cluster }
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.Cluster == nil {
		t.Fatalf("cluster create output: %v\n%s", err, out)
	}
	if resp.Cluster.Status != "ACTIVE" {
		t.Fatalf("cluster %s is %s after --wait", name, resp.Cluster.Status)
	}
	t.Logf("create --wait progress:\n%s", errOut)
	return resp.Cluster
}

// describe returns a cluster as its operator sees it: the regional API shows
// tenants a view without the cell, addresses and PIDs, which these tests
// need, so they are added from the region store as 'cluster describe' does.
func describe(ctx context.Context, t *testing.T, in *framework.Instance, name string) *eks.Cluster {
	t.Helper()
	cl, err := describeFull(ctx, in, name)
	if err != nil {
		t.Fatalf("describe %s: %v", name, err)
	}
	return cl
}

// describeFull is describe for use inside polling loops.
func describeFull(ctx context.Context, in *framework.Instance, name string) (*eks.Cluster, error) {
	cl, err := in.Client().DescribeCluster(ctx, name)
	if err != nil {
		return nil, err
	}
	return operatorOf(in).WithDetails(ctx, cl)
}

var (
	operatorsMu sync.Mutex
	operators   = map[*framework.Instance]*operator.Client{}
)

// operatorOf is one operator client per instance, so polling reuses its
// connection to the region store.
func operatorOf(in *framework.Instance) *operator.Client {
	operatorsMu.Lock()
	defer operatorsMu.Unlock()
	if operators[in] == nil {
		operators[in] = operator.New(in.DataDir)
	}
	return operators[in]
}

// kubeconfig writes the cluster's break-glass admin kubeconfig to a file through the CLI.
func kubeconfig(ctx context.Context, t *testing.T, in *framework.Instance, name string) string {
	t.Helper()
	path := t.TempDir() + "/" + name + ".kubeconfig"
	if _, errOut, err := in.CLI(ctx, "cluster", "kubeconfig", name, "--admin", "--output", path); err != nil {
		t.Fatalf("cluster kubeconfig: %v\n%s", err, errOut)
	}
	return path
}

// kubectl runs the real kubectl against a kubeconfig.
func kubectl(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	// Discovery is cached next to the kubeconfig: a shared cache would serve one
	// test the API of an earlier cluster that had the same address.
	cache := "--cache-dir=" + filepath.Join(filepath.Dir(kubeconfig), "kube-cache")
	cmd := exec.CommandContext(ctx, bins.Tools.Kubectl, append([]string{"--kubeconfig", kubeconfig, cache, "--request-timeout=10s"}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// componentPIDs maps each component of a cluster to its process ID.
func componentPIDs(t *testing.T, cl *eks.Cluster) map[string]int {
	t.Helper()
	pids, err := pidsOf(cl)
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// clusterPIDs waits until every component of cluster name runs (a member
// restarting after a fault has no PID for a moment) and returns their PIDs.
func clusterPIDs(ctx context.Context, t *testing.T, in *framework.Instance, name string) map[string]int {
	t.Helper()
	var pids map[string]int
	err := framework.Eventually(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		var err error
		pids, err = pidsOf(describe(ctx, t, in, name))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// pidsOf is componentPIDs for use inside polling loops.
func pidsOf(cl *eks.Cluster) (map[string]int, error) {
	out := map[string]int{}
	if cl.Cellplane == nil {
		return nil, fmt.Errorf("cluster %s reports no components", cl.Name)
	}
	for _, c := range cl.Cellplane.Components {
		if c.PID == 0 {
			return nil, fmt.Errorf("component %s has no PID: %+v", c.Name, c)
		}
		out[c.Name] = c.PID
	}
	if len(out) != 11 {
		return nil, fmt.Errorf("want 11 components (3 etcd, 2 of each other), got %d: %v", len(out), out)
	}
	return out, nil
}

func alive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	if err != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie has exited; only its parent's bookkeeping remains.
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

// processesMentioning lists live processes whose command line contains s.
func processesMentioning(s string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !alive(pid) {
			continue
		}
		cmdline, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(cmdline), s) {
			out = append(out, fmt.Sprintf("%d %s", pid, strings.SplitN(string(cmdline), "\x00", 2)[0]))
		}
	}
	return out
}

func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// createdKey is an access key as `cellplane account create` prints it.
type createdKey struct{ AccessKeyID, SecretAccessKey, Account string }

// createAccount creates an account through the CLI and returns its first
// key, whose Account is the new account's ID.
func createAccount(ctx context.Context, t *testing.T, in *framework.Instance, name string) createdKey {
	t.Helper()
	out, errOut, err := in.CLI(ctx, "account", "create", name, "--output", "json")
	if err != nil {
		t.Fatalf("account create: %v\n%s", err, errOut)
	}
	var created struct {
		AccessKey createdKey `json:"accessKey"`
	}
	if err := json.Unmarshal([]byte(out), &created); err != nil || created.AccessKey.SecretAccessKey == "" || created.AccessKey.Account == "" {
		t.Fatalf("account create output: %v\n%s", err, out)
	}
	return created.AccessKey
}

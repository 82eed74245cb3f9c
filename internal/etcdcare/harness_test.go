package etcdcare

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/cellplane/cellplane/internal/components"
)

// The harness runs real etcd binaries, three members per cluster, each on its own
// loopback address 127.230.<subnet>.<1..3>: every test takes a distinct subnet, so tests
// run in parallel without port clashes.

var etcdBinaries = sync.OnceValues(func() (components.EtcdBinaries, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return components.New(components.Config{}).Etcd(ctx)
})

type testCluster struct {
	t       *testing.T
	bins    components.EtcdBinaries
	token   string
	quota   int64
	members []*testMember
	cli     *clientv3.Client
}

type testMember struct {
	name    string
	ip      string
	dataDir string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

func (m *testMember) clientURL() string { return "http://" + m.ip + ":2379" }
func (m *testMember) peerURL() string   { return "http://" + m.ip + ":2380" }

type clusterOpt func(*testCluster)

func withQuota(bytes int64) clusterOpt { return func(c *testCluster) { c.quota = bytes } }

// newTestCluster prepares, but does not start, a cluster on 127.230.<subnet>.0/24.
func newTestCluster(t *testing.T, subnet int, opts ...clusterOpt) *testCluster {
	t.Helper()
	bins, err := etcdBinaries()
	if err != nil {
		t.Fatalf("etcd binaries: %v", err)
	}
	dir := t.TempDir()
	c := &testCluster{t: t, bins: bins, token: fmt.Sprintf("test-%d", subnet)}
	for i, zone := range []string{"a", "b", "c"} {
		c.members = append(c.members, &testMember{
			name:    "etcd-" + zone,
			ip:      fmt.Sprintf("127.230.%d.%d", subnet, i+1),
			dataDir: filepath.Join(dir, "etcd-"+zone),
			logPath: filepath.Join(dir, "etcd-"+zone+".log"),
		})
	}
	for _, o := range opts {
		o(c)
	}
	t.Cleanup(c.cleanup)
	return c
}

// startTestCluster starts a new cluster and waits until it is healthy.
func startTestCluster(t *testing.T, subnet int, opts ...clusterOpt) *testCluster {
	t.Helper()
	c := newTestCluster(t, subnet, opts...)
	for i := range c.members {
		c.start(i, "new", c.initialCluster())
	}
	c.waitHealthy()
	for i, m := range c.members {
		if !c.running(i) {
			c.t.Fatalf("%s exited during start", m.name)
		}
	}
	return c
}

func (c *testCluster) initialCluster() string {
	var parts []string
	for _, m := range c.members {
		parts = append(parts, m.name+"="+m.peerURL())
	}
	return strings.Join(parts, ",")
}

func (c *testCluster) endpoints() []string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.clientURL())
	}
	return eps
}

func (c *testCluster) start(i int, state, initial string) {
	c.t.Helper()
	m := c.members[i]
	args := []string{
		"--name=" + m.name,
		"--data-dir=" + m.dataDir,
		"--listen-client-urls=" + m.clientURL(),
		"--advertise-client-urls=" + m.clientURL(),
		"--listen-peer-urls=" + m.peerURL(),
		"--initial-advertise-peer-urls=" + m.peerURL(),
		"--initial-cluster=" + initial,
		"--initial-cluster-state=" + state,
		"--initial-cluster-token=" + c.token,
		"--auto-compaction-retention=0",
		"--unsafe-no-fsync", // test data only; spares the machine's disk
		"--log-level=warn",
	}
	if c.quota > 0 {
		args = append(args, fmt.Sprintf("--quota-backend-bytes=%d", c.quota))
	}
	// A leftover etcd on these addresses would answer in place of this one.
	for _, addr := range []string{m.ip + ":2379", m.ip + ":2380"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			c.t.Fatalf("%s: address busy (leftover process?): %v", m.name, err)
		}
		_ = l.Close()
	}
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	defer logf.Close()
	m.cmd = exec.Command(c.bins.Etcd, args...)
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	if err := m.cmd.Start(); err != nil {
		c.t.Fatalf("starting %s: %v", m.name, err)
	}
	m.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(m.cmd, m.done)
}

// stop ends member i by its PID: SIGTERM, then SIGKILL after 10 s.
func (c *testCluster) stop(i int) {
	m := c.members[i]
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd = nil
}

// kill ends member i abruptly, by its PID, like a crash.
func (c *testCluster) kill(i int) {
	m := c.members[i]
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.done
	m.cmd = nil
}

func (c *testCluster) running(i int) bool {
	m := c.members[i]
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

func (c *testCluster) cleanup() {
	if c.cli != nil {
		_ = c.cli.Close()
	}
	for i, m := range c.members {
		if m.cmd != nil {
			_ = m.cmd.Process.Kill()
			<-m.done
			m.cmd = nil
		}
		if c.t.Failed() {
			if b, err := os.ReadFile(m.logPath); err == nil {
				c.t.Logf("%s log (member %d):\n%s", m.name, i, lastLines(string(b), 30))
			}
		}
	}
}

func (c *testCluster) client() *clientv3.Client {
	c.t.Helper()
	if c.cli == nil {
		cli, err := clientv3.New(clientv3.Config{Endpoints: c.endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			c.t.Fatalf("etcd client: %v", err)
		}
		c.cli = cli
	}
	return c.cli
}

// waitHealthy polls Status until every member is healthy (30 s at most).
func (c *testCluster) waitHealthy() Cluster {
	c.t.Helper()
	var st Cluster
	err := poll(context.Background(), 100*time.Millisecond, 30*time.Second, func(ctx context.Context) (bool, error) {
		var err error
		st, err = Status(ctx, c.client(), c.endpoints())
		if err != nil {
			return false, err
		}
		return st.Healthy(), st.unhealthy()
	})
	if err != nil {
		c.t.Fatalf("cluster not healthy: %v", err)
	}
	return st
}

// testCtx is a test's overall deadline.
func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// fill writes n keys of size bytes under prefix, 100 to a transaction.
func fill(t *testing.T, ctx context.Context, cli *clientv3.Client, prefix string, n, size int) {
	t.Helper()
	val := strings.Repeat("x", size)
	for i := 0; i < n; i += 100 {
		var ops []clientv3.Op
		for j := i; j < min(n, i+100); j++ {
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("%s%06d", prefix, j), val))
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			t.Fatalf("filling %s: %v", prefix, err)
		}
	}
}

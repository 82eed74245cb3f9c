package machine

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/nodes/bootstrap"
	"github.com/cellplane/cellplane/internal/nodes/images"
)

// A machine starts containerd and a kubelet that dials the cluster's
// endpoint from the node's own address, and Stop (twice) leaves no
// process, namespace, link, cgroup, mount or file. The endpoint here is a
// bare listener: joining a real cluster is the end-to-end test's.
func TestStartStop(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("machines need root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ln, err := net.Listen("tcp", "127.232.128.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	callers := make(chan string, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			callers <- c.RemoteAddr().String()
			_ = c.Close()
		}
	}()
	cfg := testConfig(ctx, t, "machinetest", "https://"+ln.Addr().String(), netip.MustParseAddr("10.250.201.2"), netip.MustParseAddr("127.232.240.2"))
	m, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Stop() })
	select {
	case from := <-callers:
		if host, _, _ := net.SplitHostPort(from); host != cfg.CellSource.String() {
			t.Errorf("the endpoint was called from %s, want the node's cell source %s", from, cfg.CellSource)
		}
	case <-time.After(time.Minute):
		logs, _ := os.ReadFile(filepath.Join(cfg.Dir, "logs", "kubelet.log"))
		t.Fatalf("the kubelet never called the endpoint; its log:\n%s", logs)
	}
	pids := m.PIDs()
	if len(pids) < 3 {
		t.Errorf("machine runs %v, want the holder, containerd and the kubelet at least", pids)
	}
	if err := m.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := m.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	assertGone(t, cfg, pids)
}

// Remove clears what a machine whose owner died left, from its name and
// directory alone.
func TestRemove(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("machines need root")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cfg := testConfig(ctx, t, "removetest", "https://127.232.128.9:1", netip.MustParseAddr("10.250.202.2"), netip.MustParseAddr("127.232.240.3"))
	m, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pids := m.PIDs()
	if err := Remove(cfg.Name, cfg.Dir); err != nil {
		t.Fatal(err)
	}
	assertGone(t, cfg, pids)
	if err := m.Stop(); err != nil {
		t.Errorf("Stop after Remove: %v", err)
	}
}

func assertGone(t *testing.T, cfg Config, pids []int) {
	t.Helper()
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("process %d outlived the machine", pid)
		}
	}
	n := namesOf(cfg.Name)
	for _, p := range []string{cfg.Dir, filepath.Join(netnsDir, n.netns), "/sys/fs/cgroup/pids" + n.cgroup, "/sys/class/net/" + n.link} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left: %v", p, err)
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), cfg.Dir) {
		t.Errorf("mounts under %s left", cfg.Dir)
	}
}

// testConfig is a machine whose kubelet calls endpoint.
func testConfig(ctx context.Context, t *testing.T, name, endpoint string, addr, source netip.Addr) Config {
	t.Helper()
	nodeBins, err := components.New(components.Config{}).Node(ctx, components.Default())
	if err != nil {
		t.Fatal(err)
	}
	pause, err := images.Builder{Dir: t.TempDir()}.Archive(ctx, images.Pause)
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := bootstrap.NewToken()
	ca := testCA(t)
	kc, err := bootstrap.Kubeconfig(endpoint, ca, tok)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "cpn-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return Config{
		Name: fmt.Sprintf("%s-%d", name, os.Getpid()%100000), Dir: dir,
		Address: addr, PodCIDR: netip.MustParsePrefix("10.251.201.0/24"),
		CellPrefix: netip.MustParsePrefix("127.232.0.0/16"), HostAddress: netip.MustParseAddr("127.232.0.1"), CellSource: source,
		BootstrapKubeconfig: kc, ClientCA: ca, Kubelet: nodeBins.Kubelet,
		Images: []string{pause}, SandboxImage: images.Pause.Ref,
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
}

func testCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "machine test CA"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

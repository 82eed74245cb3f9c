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
	nodeBins, err := components.New(components.Config{}).Node(ctx, components.Default())
	if err != nil {
		t.Fatal(err)
	}
	pause, err := images.Builder{Dir: t.TempDir()}.Archive(ctx, images.Pause)
	if err != nil {
		t.Fatal(err)
	}
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
	tok, _ := bootstrap.NewToken()
	ca := testCA(t)
	kc, err := bootstrap.Kubeconfig("https://"+ln.Addr().String(), ca, tok)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "cpn-")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Name: fmt.Sprintf("machinetest-%d", os.Getpid()%100000), Dir: dir,
		Address: netip.MustParseAddr("10.250.201.2"), PodCIDR: netip.MustParsePrefix("10.251.201.0/24"),
		CellPrefix: netip.MustParsePrefix("127.232.0.0/16"), HostAddress: netip.MustParseAddr("127.232.0.1"), CellSource: netip.MustParseAddr("127.232.240.2"),
		BootstrapKubeconfig: kc, ClientCA: ca, Kubelet: nodeBins.Kubelet,
		Images: []string{pause}, SandboxImage: images.Pause.Ref,
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
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
		logs, _ := os.ReadFile(filepath.Join(dir, "logs", "kubelet.log"))
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
	for _, pid := range pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("process %d outlived the machine", pid)
		}
	}
	n := namesOf(cfg.Name)
	for _, p := range []string{dir, filepath.Join(netnsDir, n.netns), "/sys/fs/cgroup/pids" + n.cgroup, "/sys/class/net/" + n.link} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s left: %v", p, err)
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), dir) {
		t.Errorf("mounts under %s left", dir)
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

package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/test/framework"
)

// TestClusterLifecycle walks one cluster through its life: create to ACTIVE, real
// workloads through the endpoint, etcd's TLS membership, the loss of an API server,
// and a delete that leaves nothing behind.
func TestClusterLifecycle(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)

	cl := createActive(ctx, t, in, "demo")
	pids := componentPIDs(t, cl)
	kc := kubeconfig(ctx, t, in, "demo")

	t.Run("deployment gets its replicaset and pods", func(t *testing.T) {
		if _, err := kubectl(ctx, kc, "create", "deployment", "web", "--image=registry.k8s.io/pause:3.10", "--replicas=2"); err != nil {
			t.Fatal(err)
		}
		err := framework.Eventually(ctx, 60*time.Second, 250*time.Millisecond, func() error {
			out, err := kubectl(ctx, kc, "get", "pods", "-l", "app=web", "-o", "jsonpath={range .items[*]}{.metadata.ownerReferences[0].kind}={.status.phase}{\"\\n\"}{end}")
			if err != nil {
				return err
			}
			if n := strings.Count(out, "ReplicaSet=Pending"); n != 2 {
				return fmt.Errorf("want 2 Pending pods owned by a ReplicaSet, got %q", out)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if out, err := kubectl(ctx, kc, "get", "replicasets", "-l", "app=web", "-o", "name"); err != nil || !strings.Contains(out, "replicaset.apps/web-") {
			t.Fatalf("no ReplicaSet for the deployment: %v %s", err, out)
		}
		if out, err := kubectl(ctx, kc, "version", "-o", "json"); err != nil || !strings.Contains(out, `"gitVersion": "`+components.Default().Version+`"`) {
			t.Fatalf("kubectl version does not report the real server version: %v %s", err, out)
		}
	})

	t.Run("etcd has three TLS members in three zones", func(t *testing.T) {
		checkEtcdMembers(ctx, t, in, cl)
	})

	t.Run("endpoint keeps serving when an API server is killed", func(t *testing.T) {
		victim := pids["kube-apiserver-a"]
		if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for i := 0; time.Now().Before(deadline); i++ {
			if _, err := kubectl(ctx, kc, "get", "namespace", "default", "-o", "name"); err != nil {
				t.Fatalf("request %d through the endpoint failed after killing kube-apiserver-a: %v", i, err)
			}
		}
		err := framework.Eventually(ctx, 90*time.Second, 500*time.Millisecond, func() error {
			c := describe(ctx, t, in, "demo")
			for _, m := range c.Cellplane.Components {
				if m.Name == "kube-apiserver-a" && (!m.Ready || m.PID == victim || m.Restarts < 1) {
					return fmt.Errorf("kube-apiserver-a not restarted yet: %+v", m)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("delete leaves no process, port or file", func(t *testing.T) {
		cl := describe(ctx, t, in, "demo")
		pids := componentPIDs(t, cl)
		clusterDir := filepath.Join(in.DataDir, "cells", "cell-1", "clusters", v1alpha1.Namespace(v1alpha1.DefaultAccount), "demo")
		if _, err := os.Stat(clusterDir); err != nil {
			t.Fatalf("cluster directory missing before delete: %v", err)
		}
		if _, errOut, err := in.CLI(ctx, "cluster", "delete", "demo", "--wait"); err != nil {
			t.Fatalf("delete: %v\n%s", err, errOut)
		}
		for name, pid := range pids {
			if alive(pid) {
				t.Errorf("%s (pid %d) still running after delete", name, pid)
			}
		}
		for _, m := range cl.Cellplane.Components {
			if listening(m.Address) {
				t.Errorf("%s still listening on %s", m.Name, m.Address)
			}
		}
		if listening(strings.TrimPrefix(cl.Endpoint, "https://")) {
			t.Errorf("endpoint %s still listening", cl.Endpoint)
		}
		if _, err := os.Stat(clusterDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("cluster directory left behind: %v", err)
		}
		if _, err := in.Client().DescribeCluster(ctx, "demo"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("describe after delete: want not found, got %v", err)
		}
	})
}

// checkEtcdMembers asks etcd itself, over mutual TLS, who its members are.
func checkEtcdMembers(ctx context.Context, t *testing.T, in *framework.Instance, cl *eks.Cluster) {
	t.Helper()
	pkiDir := filepath.Join(in.DataDir, "cells", "cell-1", "clusters", v1alpha1.Namespace(v1alpha1.DefaultAccount), v1alpha1.ObjectName(cl.Name), "pki", "etcd")
	var endpoints []string
	zoneOf := map[string]string{}
	for _, m := range cl.Cellplane.Components {
		if strings.HasPrefix(m.Name, "etcd-") {
			endpoints = append(endpoints, "https://"+m.Address)
			zoneOf[m.Name] = m.Zone
		}
	}
	cfg, err := etcdTLS(pkiDir)
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, TLS: cfg, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatalf("member list over TLS: %v", err)
	}
	if len(resp.Members) != 3 {
		t.Fatalf("want 3 members, got %d", len(resp.Members))
	}
	ips := map[string]bool{}
	zones := map[string]bool{}
	for _, m := range resp.Members {
		if len(m.PeerURLs) != 1 || !strings.HasPrefix(m.PeerURLs[0], "https://") || len(m.ClientURLs) != 1 || !strings.HasPrefix(m.ClientURLs[0], "https://") {
			t.Errorf("member %s does not use TLS: peers %v clients %v", m.Name, m.PeerURLs, m.ClientURLs)
		}
		ips[strings.Split(strings.TrimPrefix(m.PeerURLs[0], "https://"), ":")[0]] = true
		zones[zoneOf[m.Name]] = true
	}
	if len(ips) != 3 || len(zones) != 3 {
		t.Errorf("members must sit on three addresses in three zones: ips %v zones %v", ips, zones)
	}
	plain, _ := clientv3.New(clientv3.Config{Endpoints: []string{strings.Replace(endpoints[0], "https", "http", 1)}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
	if plain != nil {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if _, err := plain.MemberList(pctx); err == nil {
			t.Errorf("etcd answered a plaintext client")
		}
		cancel()
		plain.Close()
	}
}

func etcdTLS(dir string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cellplane-etcd-client.crt"), filepath.Join(dir, "cellplane-etcd-client.key"))
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.crt"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &tls.Config{Certificates: []tls.Certificate{cert}, RootCAs: pool}, nil
}

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/test/framework"
)

// managementStore is one of an instance's stores, as an attacker on the
// machine sees it: an address, and files they may or may not get to read.
type managementStore struct {
	name string
	ip   net.IP
	pki  string
}

func managementStores(t *testing.T, in *framework.Instance) []managementStore {
	t.Helper()
	block, err := ipam.ParseBlock(in.Block, 0)
	if err != nil {
		t.Fatal(err)
	}
	stores := []managementStore{{"region", block.RegionIP(), filepath.Join(in.DataDir, "region", "store", "pki")}}
	cells, err := filepath.Glob(filepath.Join(in.DataDir, "cells", "cell-*"))
	if err != nil || len(cells) == 0 {
		t.Fatalf("no cell directories in %s (%v)", in.DataDir, err)
	}
	for k := 1; k <= len(cells); k++ {
		name := "cell-" + strconv.Itoa(k)
		stores = append(stores, managementStore{name, block.Cell(k).StoreIP(), filepath.Join(in.DataDir, "cells", name, "store", "pki")})
	}
	for _, s := range stores {
		if _, err := os.Stat(filepath.Join(s.pki, "etcd-ca.crt")); err != nil {
			t.Fatalf("store %s: %v", s.name, err)
		}
	}
	return stores
}

// etcdctl runs etcdctl against a store with the given flags, bounded in time.
func etcdctl(ctx context.Context, endpoint string, flags ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	args := append([]string{"--endpoints", endpoint, "--dial-timeout=3s", "--command-timeout=5s"}, flags...)
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, bins.Etcd.Etcdctl, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestManagementStoresRefuseStrangers attacks every management store's etcd
// the way a shell on the machine would: without a client certificate, over
// plain HTTP, and with a certificate from the service's other CA. Each is
// refused; with the store's own client certificate the Secrets it holds (the
// account records, tenants' admin kubeconfigs) are ciphertext.
func TestManagementStoresRefuseStrangers(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	// A cluster, so the cell store holds a tenant's admin kubeconfig.
	createActive(ctx, t, in, "storeattack")

	for _, s := range managementStores(t, in) {
		t.Run(s.name, func(t *testing.T) {
			client := "https://" + ipam.HostPort(s.ip, ipam.EtcdClientPort)
			ca := filepath.Join(s.pki, "etcd-ca.crt")
			own := []string{"--cacert", ca,
				"--cert", filepath.Join(s.pki, "apiserver-etcd-client.crt"),
				"--key", filepath.Join(s.pki, "apiserver-etcd-client.key")}
			read := []string{"get", "/registry/secrets", "--prefix"}

			plain := "http://" + ipam.HostPort(s.ip, ipam.EtcdClientPort)
			// Each refusal waits out a dial timeout: try them all at once.
			var wg sync.WaitGroup
			for name, args := range map[string][]string{
				"no client certificate":        {client, "--cacert", ca},
				"no certificate, no TLS check": {client, "--insecure-skip-tls-verify"},
				"a certificate of another CA": {client, "--cacert", ca,
					"--cert", filepath.Join(s.pki, "admin.crt"), "--key", filepath.Join(s.pki, "admin.key")},
				"plain HTTP": {plain},
			} {
				wg.Go(func() {
					out, err := etcdctl(ctx, args[0], append(args[1:], read...)...)
					if err == nil || strings.Contains(out, "/registry/") {
						t.Errorf("etcdctl with %s read the store (err %v):\n%.300s", name, err, out)
					}
				})
			}
			wg.Wait()
			for _, port := range []int{ipam.EtcdClientPort, ipam.EtcdPeerPort} {
				url := "http://" + ipam.HostPort(s.ip, port) + "/version"
				hc := &http.Client{Timeout: 3 * time.Second}
				if resp, err := hc.Get(url); err == nil {
					_ = resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						t.Errorf("%s answered in plain HTTP: %s", url, resp.Status)
					}
				}
			}

			// The store's own client: it gets in, and finds only sealed Secrets.
			out, err := etcdctl(ctx, client, append(own, "get", "/registry/secrets", "--prefix", "-w", "json")...)
			if err != nil {
				t.Fatalf("etcdctl with the store's client certificate: %v\n%s", err, out)
			}
			var resp struct {
				KVs []struct{ Key, Value []byte } `json:"kvs"`
			}
			if err := json.Unmarshal([]byte(out), &resp); err != nil {
				t.Fatalf("etcdctl -w json: %v\n%.300s", err, out)
			}
			if len(resp.KVs) == 0 {
				t.Fatalf("store %s holds no Secrets: nothing shows they are sealed", s.name)
			}
			for _, kv := range resp.KVs {
				if !bytes.HasPrefix(kv.Value, []byte("k8s:enc:secretbox:v1:")) {
					t.Errorf("Secret %s is stored in the clear: %.60q", kv.Key, kv.Value)
				}
				if bytes.Contains(kv.Value, []byte("client-key-data")) || bytes.Contains(kv.Value, []byte("PRIVATE KEY")) {
					t.Errorf("Secret %s shows key material in etcd", kv.Key)
				}
			}
		})
	}
}

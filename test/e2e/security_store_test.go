package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
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

	stores := managementStores(t, in)
	for _, s := range stores {
		if s.name != "region" {
			t.Run(s.name+"/lb-status", func(t *testing.T) { attackStatusServer(t, s, stores[0]) })
		}
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

// attackStatusServer reads the cell load balancer's status server, which
// shares the cell store's address and names every tenant's endpoints and
// backends: in the clear, over TLS with no certificate, and with a
// certificate of another store's CA, it shows nothing; the cell store's own
// client reads it.
func attackStatusServer(t *testing.T, cell, other managementStore) {
	addr := ipam.HostPort(cell.ip, ipam.LoadBalancerStatusPort)
	plain := &http.Client{Timeout: 3 * time.Second}
	if resp, err := plain.Get("http://" + addr + "/status"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == http.StatusOK || bytes.Contains(body, []byte("backends")) {
			t.Errorf("the status server answered in plain HTTP: %s %.200q", resp.Status, body)
		}
	}
	own, err := framework.StatusClientFor(cell.pki)
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := framework.StatusClientFor(other.pki)
	if err != nil {
		t.Fatal(err)
	}
	ownTLS := own.Transport.(*http.Transport).TLSClientConfig
	// Trusts the server, as an attacker who copied the public CA would, but
	// holds no certificate.
	anonymous := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ownTLS.RootCAs, MinVersion: tls.VersionTLS12}}}
	// Holds the other store's certificate and trusts this server.
	strangerTLS := stranger.Transport.(*http.Transport).TLSClientConfig.Clone()
	strangerTLS.RootCAs = ownTLS.RootCAs
	stranger = &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: strangerTLS}}
	for name, hc := range map[string]*http.Client{"no client certificate": anonymous, "a certificate of another CA": stranger} {
		if resp, err := hc.Get("https://" + addr + "/status"); err == nil {
			_ = resp.Body.Close()
			t.Errorf("the status server answered a client with %s: %s", name, resp.Status)
		}
	}
	resp, err := own.Get("https://" + addr + "/status")
	if err != nil {
		t.Fatalf("the cell's own client: %v", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the cell's own client got %s", resp.Status)
	}
}

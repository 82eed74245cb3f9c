package pki

import (
	"crypto/x509"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func testSpec() ClusterSpec {
	return ClusterSpec{
		ClusterName:      "demo",
		EndpointIPs:      []net.IP{net.ParseIP("127.100.0.10")},
		EndpointDNSNames: []string{"demo.cellplane.local"},
		EtcdMembers: []Member{
			{Name: "etcd-a", IP: net.ParseIP("127.100.16.1")},
			{Name: "etcd-b", IP: net.ParseIP("127.100.16.2")},
			{Name: "etcd-c", IP: net.ParseIP("127.100.16.3")},
		},
		APIServers: []Member{
			{Name: "api-a", IP: net.ParseIP("127.100.17.1")},
			{Name: "api-b", IP: net.ParseIP("127.100.17.2")},
		},
		ServiceIP: net.ParseIP("10.96.0.1"),
	}
}

// pairs lists every leaf pair of f, keyed by its file base name.
func pairs(f *ClusterFiles) map[string]Pair {
	out := map[string]Pair{}
	add := func(p Pair) { out[filepath.Base(p.Cert)] = p }
	for _, m := range []map[string]Pair{f.EtcdServer, f.EtcdPeer, f.APIServer} {
		for _, p := range m {
			add(p)
		}
	}
	for _, p := range []Pair{f.APIServerEtcdClient, f.CellplaneEtcdClient, f.KubeletClient,
		f.ControllerManager, f.Scheduler, f.Admin, f.FrontProxyClient} {
		add(p)
	}
	return out
}

func allFiles(f *ClusterFiles) []string {
	out := f.all()
	slices.Sort(out)
	return out
}

// fileState is what a rewrite changes. The mtime alone can miss one made
// within the same clock tick, so the content is compared too.
type fileState struct {
	mtime time.Time
	data  string
}

func snapshot(t *testing.T, files []string) map[string]fileState {
	t.Helper()
	out := map[string]fileState{}
	for _, path := range files {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		out[path] = fileState{fi.ModTime(), string(data)}
	}
	return out
}

// changed returns the sorted paths, relative to root, of files rewritten
// since before.
func changed(t *testing.T, root string, before map[string]fileState) []string {
	t.Helper()
	var out []string
	for path, now := range snapshot(t, slices.Collect(maps.Keys(before))) {
		if was := before[path]; !now.mtime.Equal(was.mtime) || now.data != was.data {
			rel, _ := filepath.Rel(root, path)
			out = append(out, rel)
		}
	}
	slices.Sort(out)
	return out
}

func mustCluster(t testing.TB, dir string, spec ClusterSpec) *ClusterFiles {
	t.Helper()
	f, err := EnsureCluster(dir, spec)
	if err != nil {
		t.Fatalf("EnsureCluster: %v", err)
	}
	return f
}

func mustReadCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	cert, err := readCert(path)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func mustCA(t testing.TB, cn string) *CA {
	t.Helper()
	ca, err := NewCA(cn)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

package pki

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestEnsureClusterIsIdempotent(t *testing.T) {
	dir := t.TempDir()
	files := mustCluster(t, dir, testSpec())
	if n := len(allFiles(files)); n != 39 {
		t.Errorf("%d files, want 39: 3 CAs, the trust bundle, 15 leaf pairs and the service-account key", n)
	}
	before := snapshot(t, allFiles(files))
	again := mustCluster(t, dir, testSpec())
	if got := changed(t, dir, before); len(got) != 0 {
		t.Errorf("second EnsureCluster rewrote %v", got)
	}
	if !reflect.DeepEqual(files, again) {
		t.Error("second EnsureCluster returned different paths")
	}
}

func TestEnsureClusterReissuesOnSpecChange(t *testing.T) {
	apiServers := pairNames("apiserver-api-a", "apiserver-api-b")
	tests := []struct {
		name        string
		edit        func(*ClusterSpec)
		wantChanged []string
	}{
		{"endpoint DNS name added", func(s *ClusterSpec) {
			s.EndpointDNSNames = append(s.EndpointDNSNames, "api.example.com")
		}, apiServers},
		{"endpoint IP changed", func(s *ClusterSpec) { s.EndpointIPs = []net.IP{net.ParseIP("127.100.0.11")} }, apiServers},
		{"service IP changed", func(s *ClusterSpec) { s.ServiceIP = net.ParseIP("10.100.0.1") }, apiServers},
		{"etcd member moved", func(s *ClusterSpec) {
			s.EtcdMembers[1].IP = net.ParseIP("127.100.16.20")
		}, pairNames("etcd/peer-etcd-b", "etcd/server-etcd-b")},
		{"etcd member's zone got a namespace", func(s *ClusterSpec) {
			s.EtcdMembers[0].SourceIP = net.ParseIP("127.100.32.255")
		}, pairNames("etcd/peer-etcd-a")},
		{"API server added", func(s *ClusterSpec) {
			s.APIServers = append(s.APIServers, Member{Name: "api-c", IP: net.ParseIP("127.100.17.3")})
		}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			before := snapshot(t, allFiles(mustCluster(t, dir, testSpec())))
			spec := testSpec()
			tt.edit(&spec)
			after := mustCluster(t, dir, spec)
			if got := changed(t, dir, before); !slices.Equal(got, tt.wantChanged) {
				t.Errorf("rewrote %v, want %v", got, tt.wantChanged)
			}
			snapshot(t, allFiles(after)) // every file of the new spec exists
		})
	}
}

func TestEnsureClusterFollowsRegeneratedCA(t *testing.T) {
	tests := []struct {
		name   string
		tamper string // file made unusable
		want   []string
	}{
		{"etcd CA key lost", "etcd/ca.key", pairNames("etcd/apiserver-etcd-client", "etcd/ca",
			"etcd/cellplane-etcd-client", "etcd/peer-etcd-a", "etcd/peer-etcd-b", "etcd/peer-etcd-c",
			"etcd/server-etcd-a", "etcd/server-etcd-b", "etcd/server-etcd-c")},
		// The new CA joins the trust bundle, which keeps the old one.
		{"kubernetes CA corrupt", "ca.crt", sorted(append(pairNames("admin", "apiserver-api-a", "apiserver-api-b",
			"apiserver-kubelet-client", "ca", "controller-manager", "scheduler"), "ca-bundle.crt"))},
		{"front-proxy CA lost", "front-proxy-ca.crt", pairNames("front-proxy-ca", "front-proxy-client")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			before := snapshot(t, allFiles(mustCluster(t, dir, testSpec())))
			overwrite(t, filepath.Join(dir, tt.tamper), []byte("garbage"))
			delete(before, filepath.Join(dir, tt.tamper)) // changed by the test itself
			mustCluster(t, dir, testSpec())
			want := slices.DeleteFunc(tt.want, func(s string) bool { return s == tt.tamper })
			if got := changed(t, dir, before); !slices.Equal(got, want) {
				t.Errorf("rewrote %v, want %v", got, want)
			}
		})
	}
}

func TestEnsureClusterServiceAccountKey(t *testing.T) {
	tests := []struct {
		name        string
		tamper      func(t *testing.T, f *ClusterFiles)
		wantKeyKept bool
	}{
		{"public key lost", func(t *testing.T, f *ClusterFiles) { mustRemove(t, f.SAPub) }, true},
		{"public key of another key", func(t *testing.T, f *ClusterFiles) {
			pub, _ := encodePublicKey(mustCA(t, "x").Key.Public())
			overwrite(t, f.SAPub, pub)
		}, true},
		{"private key corrupt", func(t *testing.T, f *ClusterFiles) { overwrite(t, f.SAKey, []byte("x")) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f := mustCluster(t, dir, testSpec())
			tt.tamper(t, f)
			before := snapshot(t, []string{f.SAKey})
			mustCluster(t, dir, testSpec())
			if keyKept := len(changed(t, dir, before)) == 0; keyKept != tt.wantKeyKept {
				t.Errorf("sa.key kept = %v, want %v", keyKept, tt.wantKeyKept)
			}
			key, err := readKey(f.SAKey)
			if err != nil {
				t.Fatal(err)
			}
			pubPEM, _ := os.ReadFile(f.SAPub)
			if pub, err := parsePublicKey(pubPEM); err != nil || !keyMatches(key, pub) {
				t.Errorf("sa.pub does not match sa.key: %v", err)
			}
		})
	}
}

func TestEnsureClusterModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	f := mustCluster(t, dir, testSpec())
	assertMode(t, dir, dirPerm)
	assertMode(t, filepath.Join(dir, "etcd"), dirPerm)
	for _, path := range allFiles(f) {
		want := certPerm
		if strings.HasSuffix(path, ".key") {
			want = keyPerm
		}
		assertMode(t, path, want)
	}
}

func TestEnsureClusterInvalidSpec(t *testing.T) {
	tests := []struct {
		name string
		edit func(*ClusterSpec)
	}{
		{"no cluster name", func(s *ClusterSpec) { s.ClusterName = "" }},
		{"no service IP", func(s *ClusterSpec) { s.ServiceIP = nil }},
		{"no etcd members", func(s *ClusterSpec) { s.EtcdMembers = nil }},
		{"no API servers", func(s *ClusterSpec) { s.APIServers = nil }},
		{"duplicate member", func(s *ClusterSpec) { s.APIServers[1].Name = s.APIServers[0].Name }},
		{"path in member name", func(s *ClusterSpec) { s.EtcdMembers[0].Name = "../x" }},
		{"member without IP", func(s *ClusterSpec) { s.EtcdMembers[0].IP = nil }},
		{"member name clashing with a client", func(s *ClusterSpec) { s.APIServers[0].Name = "kubelet-client" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "pki")
			spec := testSpec()
			tt.edit(&spec)
			if _, err := EnsureCluster(dir, spec); !errors.Is(err, ErrInvalidRequest) {
				t.Fatalf("err = %v, want ErrInvalidRequest", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("invalid spec wrote %s", dir)
			}
		})
	}
}

func TestClusterPaths(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	paths := ClusterPaths(dir, testSpec())
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("ClusterPaths touched disk")
	}
	if got := mustCluster(t, dir, testSpec()); !reflect.DeepEqual(got, paths) {
		t.Errorf("ClusterPaths = %+v, EnsureCluster = %+v", paths, got)
	}
	t.Chdir(filepath.Dir(dir))
	if rel := ClusterPaths("pki", testSpec()); !reflect.DeepEqual(rel, paths) {
		t.Errorf("relative dir not made absolute: %s", rel.CA)
	}
}

// pairNames expands pair names to their sorted .crt and .key files.
func pairNames(names ...string) []string {
	var out []string
	for _, n := range names {
		out = append(out, n+".crt", n+".key")
	}
	slices.Sort(out)
	return out
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

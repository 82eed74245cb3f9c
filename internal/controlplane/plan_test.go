package controlplane

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/ipam"
)

// testSlots are the slots every plan test runs on: the first, and one whose
// addresses are not the first of their zone.
var testSlots = []int{0, 5}

func testCell(t *testing.T) ipam.Cell {
	t.Helper()
	b, err := ipam.ParseBlock("127.100", 1)
	if err != nil {
		t.Fatal(err)
	}
	return b.Cell(1)
}

func testInput(t *testing.T, dir string, slot int) Input {
	return Input{
		Namespace:   "acct-000000000000",
		Name:        "demo",
		UID:         "0c5a9e4e-6f1b-4a43-9a51-6d1f4c1e2b7a",
		ClusterName: "demo",
		Dir:         dir,
		Cell:        testCell(t),
		Slot:        slot,
		Kubernetes: components.KubernetesBinaries{
			Release:               components.Default(),
			KubeAPIServer:         "/cache/kubernetes/kube-apiserver",
			KubeControllerManager: "/cache/kubernetes/kube-controller-manager",
			KubeScheduler:         "/cache/kubernetes/kube-scheduler",
		},
		Etcd:      components.EtcdBinaries{Version: components.EtcdVersion, Etcd: "/cache/etcd/etcd"},
		Cellplane: "/usr/local/bin/cellplane",
	}
}

// forEachSlot runs f on a plan of each test slot.
func forEachSlot(t *testing.T, f func(t *testing.T, p *Plan)) {
	for _, slot := range testSlots {
		t.Run("slot"+strconv.Itoa(slot), func(t *testing.T) {
			f(t, New(testInput(t, t.TempDir(), slot)))
		})
	}
}

// flags parses "--name=value" and "--name" arguments, failing on anything else and on
// a flag given twice: the last would win silently.
func flags(t *testing.T, args []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, a := range args {
		name, value, _ := strings.Cut(a, "=")
		if !strings.HasPrefix(name, "-") {
			t.Fatalf("argument %q is not a flag", a)
		}
		name = strings.TrimLeft(name, "-")
		if _, dup := out[name]; dup {
			t.Fatalf("flag --%s given twice in %q", name, args)
		}
		out[name] = value
	}
	return out
}

// within reports whether path lies inside dir.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && filepath.IsAbs(path) && rel != ".." && !strings.HasPrefix(rel, "../")
}

func TestMembers(t *testing.T) {
	wantZones := map[string][]string{
		KindEtcd:              {"a", "b", "c"},
		KindAPIServer:         {"a", "b"},
		KindControllerManager: {"a", "b"},
		KindScheduler:         {"a", "b"},
		KindKMSPlugin:         {"a", "b"},
	}
	forEachSlot(t, func(t *testing.T, p *Plan) {
		all := p.AllMembers()
		if len(all) != 11 {
			t.Fatalf("AllMembers() has %d members, want 11", len(all))
		}
		seen := map[string]string{p.EndpointIP().String(): "endpoint"}
		names := map[string]bool{}
		for _, m := range all {
			if m.Port == 0 {
				// No network address (the KMS plugin's socket): shown beside
				// its zone's API server.
				if api := p.member(KindAPIServer, m.Zone); !m.IP.Equal(api.IP) {
					t.Errorf("%s is shown at %s, not beside %s at %s", m.Name(), m.IP, api.Name(), api.IP)
				}
				names[m.Name()] = true
				continue
			}
			if prev, dup := seen[m.IP.String()]; dup {
				t.Errorf("%s and %s share %s", m.Name(), prev, m.IP)
			}
			seen[m.IP.String()] = m.Name()
			if names[m.Name()] {
				t.Errorf("two members named %s", m.Name())
			}
			names[m.Name()] = true
			if m.IP.To4() == nil || m.IP[1] != 101 {
				t.Errorf("%s has %s, outside cell 1's 127.101.0.0/16", m.Name(), m.IP)
			}
		}
		for kind, zones := range wantZones {
			var got []string
			for _, m := range p.Members(kind) {
				got = append(got, m.Zone)
				if m.Kind != kind {
					t.Errorf("Members(%s) returned a %s", kind, m.Kind)
				}
			}
			if !slices.Equal(got, zones) {
				t.Errorf("%s zones = %q, want %q", kind, got, zones)
			}
		}
		// Start order: etcd, API servers, then controllers.
		var kinds []string
		for _, m := range all {
			if len(kinds) == 0 || kinds[len(kinds)-1] != m.Kind {
				kinds = append(kinds, m.Kind)
			}
		}
		if want := []string{KindEtcd, KindAPIServer, KindKMSPlugin, KindControllerManager, KindScheduler}; !slices.Equal(kinds, want) {
			t.Errorf("AllMembers order = %q, want %q", kinds, want)
		}
	})
}

func TestSlotsDoNotShareAddresses(t *testing.T) {
	seen := map[string]string{}
	for _, slot := range testSlots {
		p := New(testInput(t, t.TempDir(), slot))
		ips := []string{p.EndpointIP().String()}
		for _, m := range p.AllMembers() {
			if m.Port != 0 { // the KMS plugins have no network address
				ips = append(ips, m.IP.String())
			}
		}
		for _, ip := range ips {
			if prev, dup := seen[ip]; dup {
				t.Errorf("slot %d reuses %s of %s", slot, ip, prev)
			}
			seen[ip] = "slot " + strconv.Itoa(slot)
		}
	}
}

func TestSpecIdentity(t *testing.T) {
	forEachSlot(t, func(t *testing.T, p *Plan) {
		wantPath := map[string]string{
			KindEtcd:              "/cache/etcd/etcd",
			KindAPIServer:         "/cache/kubernetes/kube-apiserver",
			KindControllerManager: "/cache/kubernetes/kube-controller-manager",
			KindScheduler:         "/cache/kubernetes/kube-scheduler",
			KindKMSPlugin:         "/usr/local/bin/cellplane",
		}
		ids := map[string]bool{}
		for _, m := range p.AllMembers() {
			s := p.Spec(m)
			// The service maps a process exit back to its cluster by splitting the
			// ID into namespace, name and member.
			if want := "acct-000000000000/demo/" + m.Name(); s.ID != want {
				t.Errorf("%s ID = %q, want %q", m.Name(), s.ID, want)
			}
			if ids[s.ID] {
				t.Errorf("duplicate process ID %s", s.ID)
			}
			ids[s.ID] = true
			if s.Path != wantPath[m.Kind] || s.Name != m.Name() || s.StateDir != p.LogDir() || s.Dir != p.Dir() {
				t.Errorf("%s spec = %+v", m.Name(), s)
			}
		}
	})
}

func TestEtcdSpec(t *testing.T) {
	forEachSlot(t, func(t *testing.T, p *Plan) {
		peers := p.Members(KindEtcd)
		var wantInitial []string
		for _, m := range peers {
			wantInitial = append(wantInitial, fmt.Sprintf("%s=https://%s:2380", m.Name(), m.IP))
		}
		dataDirs := map[string]bool{}
		for _, m := range peers {
			f := flags(t, p.Spec(m).Args)
			client := fmt.Sprintf("https://%s:2379", m.IP)
			peer := fmt.Sprintf("https://%s:2380", m.IP)
			for name, want := range map[string]string{
				"name":                        m.Name(),
				"listen-client-urls":          client,
				"advertise-client-urls":       client,
				"listen-peer-urls":            peer,
				"initial-advertise-peer-urls": peer,
				"initial-cluster-state":       "new",
				"initial-cluster-token":       "0c5a9e4e-6f1b-4a43-9a51-6d1f4c1e2b7a",
				"client-cert-auth":            "",
				"peer-client-cert-auth":       "",
				"trusted-ca-file":             p.Files().EtcdCA,
				"peer-trusted-ca-file":        p.Files().EtcdCA,
			} {
				if got, ok := f[name]; !ok || got != want {
					t.Errorf("%s --%s = %q (set %v), want %q", m.Name(), name, got, ok, want)
				}
			}
			initial := strings.Split(f["initial-cluster"], ",")
			if !slices.Equal(initial, wantInitial) {
				t.Errorf("%s --initial-cluster = %q, want %q", m.Name(), initial, wantInitial)
			}
			for _, name := range []string{"cert-file", "key-file", "peer-cert-file", "peer-key-file", "trusted-ca-file"} {
				if !within(f[name], p.PKIDir()) {
					t.Errorf("%s --%s = %q, not under %s", m.Name(), name, f[name], p.PKIDir())
				}
			}
			if f["cert-file"] == f["peer-cert-file"] {
				t.Errorf("%s serves clients and peers with the same certificate", m.Name())
			}
			if dd := f["data-dir"]; dd != p.EtcdDataDir(m) || !within(dd, p.Dir()) || dataDirs[dd] {
				t.Errorf("%s --data-dir = %q: want its own directory under %s", m.Name(), dd, p.Dir())
			}
			dataDirs[f["data-dir"]] = true
		}
		// Each member's serving certificate is its own.
		certs := map[string]bool{}
		for _, m := range peers {
			certs[flags(t, p.Spec(m).Args)["cert-file"]] = true
		}
		if len(certs) != len(peers) {
			t.Errorf("etcd members share serving certificates: %v", certs)
		}
	})
}

func TestAPIServerSpec(t *testing.T) {
	forEachSlot(t, func(t *testing.T, p *Plan) {
		var wantEtcd []string
		for _, m := range p.Members(KindEtcd) {
			wantEtcd = append(wantEtcd, fmt.Sprintf("https://%s:2379", m.IP))
		}
		auditLogs := map[string]bool{}
		for _, m := range p.Members(KindAPIServer) {
			f := flags(t, p.Spec(m).Args)
			for name, want := range map[string]string{
				"authorization-mode":     "Node,RBAC",
				"advertise-address":      map[string]string{"a": "10.249.0.11", "b": "10.249.0.12"}[m.Zone],
				"external-hostname":      m.IP.String(),
				"bind-address":           m.IP.String(),
				"secure-port":            "6443",
				"service-account-issuer": p.Endpoint(),
				"audit-policy-file":      p.AuditPolicyPath(),
				"client-ca-file":         p.Files().CABundle,
				"etcd-cafile":            p.Files().EtcdCA,
				// Kubelets' serving certificates are verified against the
				// cluster CA that signs them (see the node bootstrap).
				"kubelet-certificate-authority":   p.Files().CABundle,
				"enable-bootstrap-token-auth":     "true",
				"kubelet-preferred-address-types": "InternalIP,ExternalIP,Hostname",
				"service-cluster-ip-range":        ServiceCIDR,
			} {
				if got := f[name]; got != want {
					t.Errorf("%s --%s = %q, want %q", m.Name(), name, got, want)
				}
			}
			if got := strings.Split(f["etcd-servers"], ","); !slices.Equal(got, wantEtcd) {
				t.Errorf("%s --etcd-servers = %q, want %q", m.Name(), got, wantEtcd)
			}
			if !slices.Equal(wantEtcd, p.EtcdEndpoints()) {
				t.Errorf("EtcdEndpoints() = %q, want %q", p.EtcdEndpoints(), wantEtcd)
			}
			for _, name := range []string{
				"tls-cert-file", "tls-private-key-file", "client-ca-file",
				"etcd-cafile", "etcd-certfile", "etcd-keyfile",
				"service-account-key-file", "service-account-signing-key-file",
				"kubelet-client-certificate", "kubelet-client-key",
				"proxy-client-cert-file", "proxy-client-key-file", "requestheader-client-ca-file",
			} {
				if !within(f[name], p.PKIDir()) {
					t.Errorf("%s --%s = %q, not under %s", m.Name(), name, f[name], p.PKIDir())
				}
			}
			log := f["audit-log-path"]
			if !within(log, p.LogDir()) || auditLogs[log] {
				t.Errorf("%s --audit-log-path = %q: want a file of its own under %s", m.Name(), log, p.LogDir())
			}
			auditLogs[log] = true
		}
		a, b := p.Members(KindAPIServer)[0], p.Members(KindAPIServer)[1]
		if flags(t, p.Spec(a).Args)["tls-cert-file"] == flags(t, p.Spec(b).Args)["tls-cert-file"] {
			t.Error("the API servers share a serving certificate")
		}
	})
}

func TestControllerSpecs(t *testing.T) {
	forEachSlot(t, func(t *testing.T, p *Plan) {
		for kind, port := range map[string]string{KindControllerManager: "10257", KindScheduler: "10259"} {
			for _, m := range p.Members(kind) {
				f := flags(t, p.Spec(m).Args)
				kc := p.KubeconfigPath(m)
				if !within(kc, p.ConfigDir()) {
					t.Errorf("%s kubeconfig %s is not under %s", m.Name(), kc, p.ConfigDir())
				}
				for name, want := range map[string]string{
					"leader-elect":              "true",
					"kubeconfig":                kc,
					"authentication-kubeconfig": kc,
					"authorization-kubeconfig":  kc,
					"bind-address":              m.IP.String(),
					"secure-port":               port,
				} {
					if got := f[name]; got != want {
						t.Errorf("%s --%s = %q, want %q", m.Name(), name, got, want)
					}
				}
			}
		}
		cm := flags(t, p.Spec(p.Members(KindControllerManager)[0]).Args)
		for _, name := range []string{"cluster-signing-cert-file", "cluster-signing-key-file", "root-ca-file", "service-account-private-key-file"} {
			if !within(cm[name], p.PKIDir()) {
				t.Errorf("controller-manager --%s = %q, not under %s", name, cm[name], p.PKIDir())
			}
		}
		// Node TLS bootstrap: the signer issues kubelets' certificates with the
		// cluster CA, the approver and the bootstrap token controllers run.
		if cm["cluster-signing-cert-file"] != p.Files().CA || cm["cluster-signing-key-file"] != p.Files().CAKey {
			t.Errorf("controller-manager signs with %q/%q, want the cluster CA", cm["cluster-signing-cert-file"], cm["cluster-signing-key-file"])
		}
		if got := strings.Split(cm["controllers"], ","); !slices.Contains(got, "*") || !slices.Contains(got, "bootstrapsigner") || !slices.Contains(got, "tokencleaner") {
			t.Errorf("controller-manager --controllers = %q: want the defaults (csrapproving, csrsigning) and bootstrapsigner, tokencleaner", got)
		}
		if cm["service-account-private-key-file"] != flags(t, p.Spec(p.Members(KindAPIServer)[0]).Args)["service-account-signing-key-file"] {
			t.Error("controller-manager and API server sign service-account tokens with different keys")
		}
	})
}

// A restarted cellplane recomputes every plan and adopts the running processes only
// if their specs come out identical.
func TestPlanIsDeterministic(t *testing.T) {
	for _, slot := range testSlots {
		dir := t.TempDir()
		p1, p2 := New(testInput(t, dir, slot)), New(testInput(t, dir, slot))
		if !reflect.DeepEqual(p1.AllMembers(), p2.AllMembers()) {
			t.Fatalf("slot %d: members differ between identical plans", slot)
		}
		for _, m := range p1.AllMembers() {
			if s1, s2 := p1.Spec(m), p2.Spec(m); !reflect.DeepEqual(s1, s2) {
				t.Errorf("slot %d: %s spec differs:\n%+v\n%+v", slot, m.Name(), s1, s2)
			}
		}
		if !reflect.DeepEqual(p1.EndpointConfig(), p2.EndpointConfig()) || !reflect.DeepEqual(p1.PKISpec(), p2.PKISpec()) {
			t.Errorf("slot %d: endpoint or PKI spec differs between identical plans", slot)
		}
	}
}

func TestNewClusterIsNewEtcdCluster(t *testing.T) {
	in := testInput(t, t.TempDir(), 0)
	p1 := New(in)
	in.UID = "another-uid"
	p2 := New(in)
	m := p1.Members(KindEtcd)[0]
	t1, t2 := flags(t, p1.Spec(m).Args)["initial-cluster-token"], flags(t, p2.Spec(m).Args)["initial-cluster-token"]
	if t1 == t2 {
		t.Fatalf("a recreated cluster reuses etcd cluster token %q", t1)
	}
}

func TestEndpointConfig(t *testing.T) {
	forEachSlot(t, func(t *testing.T, p *Plan) {
		c := p.EndpointConfig()
		if c.ID != "acct-000000000000.demo" || c.ID != p.EndpointID() {
			t.Errorf("ID = %q", c.ID)
		}
		if c.Listen != p.EndpointAddress() || p.Endpoint() != "https://"+c.Listen {
			t.Errorf("Listen = %q, endpoint %q", c.Listen, p.Endpoint())
		}
		if host, port, _ := net.SplitHostPort(c.Listen); host != p.EndpointIP().String() || port != "6443" {
			t.Errorf("Listen = %q, want %s:6443", c.Listen, p.EndpointIP())
		}
		if c.HealthCheck.CAFile != p.Files().CABundle || c.HealthCheck.Path != "/readyz?exclude=kms-providers" {
			t.Errorf("HealthCheck = %+v, want /readyz without the KMS check against %s", c.HealthCheck, p.Files().CABundle)
		}
		var got []string
		for _, b := range c.Backends {
			got = append(got, b.Name+"@"+b.Address)
		}
		var want []string
		for _, m := range p.Members(KindAPIServer) {
			want = append(want, m.Name()+"@"+m.Address())
		}
		if len(want) != 2 || !slices.Equal(got, want) {
			t.Errorf("Backends = %q, want %q", got, want)
		}
	})
}

func TestPKISpec(t *testing.T) {
	forEachSlot(t, func(t *testing.T, p *Plan) {
		s := p.PKISpec()
		if s.ClusterName != "demo" || len(s.EndpointIPs) != 1 || !s.EndpointIPs[0].Equal(p.EndpointIP()) {
			t.Errorf("PKISpec = %+v", s)
		}
		if !s.ServiceIP.Equal(net.IPv4(10, 100, 0, 1)) {
			t.Errorf("ServiceIP = %s, want the first address of %s", s.ServiceIP, ServiceCIDR)
		}
		check := func(kind string, got []string) {
			var want []string
			for _, m := range p.Members(kind) {
				want = append(want, m.Name()+"@"+m.IP.String())
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s certificates for %q, want %q", kind, got, want)
			}
		}
		var etcd, api []string
		for _, m := range s.EtcdMembers {
			etcd = append(etcd, m.Name+"@"+m.IP.String())
		}
		for _, m := range s.APIServers {
			api = append(api, m.Name+"@"+m.IP.String())
		}
		check(KindEtcd, etcd)
		check(KindAPIServer, api)
	})
}

func TestNewProberWithoutPKI(t *testing.T) {
	p := New(testInput(t, t.TempDir(), 0))
	if pr, err := NewProber(p); err == nil {
		pr.Close()
		t.Fatal("NewProber succeeded without any certificates")
	}
}

func TestDirectories(t *testing.T) {
	dir := t.TempDir()
	p := New(testInput(t, dir, 0))
	for name, got := range map[string]string{"pki": p.PKIDir(), "config": p.ConfigDir(), "logs": p.LogDir()} {
		if got != filepath.Join(dir, name) {
			t.Errorf("%s directory = %s", name, got)
		}
	}
	if p.Dir() != dir {
		t.Errorf("Dir() = %s", p.Dir())
	}
	if _, err := os.Stat(p.PKIDir()); err == nil {
		t.Error("New touched the file system")
	}
}

func TestAPIServerGoawayChance(t *testing.T) {
	in := testInput(t, t.TempDir(), testSlots[0])
	for _, tc := range []struct {
		chance float64
		want   string
		set    bool
	}{{0, "", false}, {0.001, "0.001", true}, {0.02, "0.02", true}} {
		in.GoawayChance = tc.chance
		p := New(in)
		for _, m := range p.Members(KindAPIServer) {
			got, ok := flags(t, p.Spec(m).Args)["goaway-chance"]
			if ok != tc.set || got != tc.want {
				t.Errorf("chance %v: %s --goaway-chance = %q (set %v), want %q (set %v)", tc.chance, m.Name(), got, ok, tc.want, tc.set)
			}
		}
	}
}

func TestEtcdJoinedStartsExisting(t *testing.T) {
	in := testInput(t, t.TempDir(), testSlots[0])
	in.EtcdJoined = []string{"etcd-b"}
	p := New(in)
	for _, m := range p.Members(KindEtcd) {
		want := "new"
		if m.Name() == "etcd-b" {
			want = "existing"
		}
		if got := flags(t, p.Spec(m).Args)["initial-cluster-state"]; got != want {
			t.Errorf("%s --initial-cluster-state = %q, want %q", m.Name(), got, want)
		}
	}
}

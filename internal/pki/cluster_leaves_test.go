package pki

import (
	"crypto/x509"
	"os"
	"slices"
	"testing"
	"time"
)

func TestEnsureClusterLeaves(t *testing.T) {
	spec := testSpec()
	f := mustCluster(t, t.TempDir(), spec)
	server := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	client := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	type want struct {
		pair   Pair
		caFile string
		cn     string
		org    []string
		eku    []x509.ExtKeyUsage
		dns    []string
		ips    []string
	}
	tests := map[string]want{
		"etcd server a": {f.EtcdServer["etcd-a"], f.EtcdCA, "etcd-a", nil, both,
			[]string{"localhost", "etcd-a"}, []string{"127.100.16.1", "127.0.0.1"}},
		"etcd server c": {f.EtcdServer["etcd-c"], f.EtcdCA, "etcd-c", nil, both,
			[]string{"localhost", "etcd-c"}, []string{"127.100.16.3", "127.0.0.1"}},
		"etcd peer b":           {f.EtcdPeer["etcd-b"], f.EtcdCA, "etcd-b", nil, both, nil, []string{"127.100.16.2", "127.0.0.1"}},
		"apiserver etcd client": {f.APIServerEtcdClient, f.EtcdCA, "kube-apiserver-etcd-client", nil, client, nil, nil},
		"cellplane etcd client": {f.CellplaneEtcdClient, f.EtcdCA, "cellplane", nil, client, nil, nil},
		"apiserver b": {f.APIServer["api-b"], f.CA, "kube-apiserver", nil, server,
			[]string{"demo.cellplane.local", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
				"kubernetes.default.svc.cluster.local", "localhost"},
			[]string{"127.100.17.2", "127.100.0.10", "10.96.0.1", "127.0.0.1"}},
		"kubelet client":     {f.KubeletClient, f.CA, "kube-apiserver-kubelet-client", []string{"system:masters"}, client, nil, nil},
		"controller-manager": {f.ControllerManager, f.CA, "system:kube-controller-manager", nil, client, nil, nil},
		"scheduler":          {f.Scheduler, f.CA, "system:kube-scheduler", nil, client, nil, nil},
		"admin":              {f.Admin, f.CA, "cellplane-admin", []string{"system:masters"}, client, nil, nil},
		"front-proxy client": {f.FrontProxyClient, f.FrontProxyCA, "front-proxy-client", nil, client, nil, nil},
	}
	for name, w := range tests {
		t.Run(name, func(t *testing.T) {
			cert := verifyPair(t, w.pair, w.caFile, w.eku)
			if cert.Subject.CommonName != w.cn || !slices.Equal(cert.Subject.Organization, w.org) {
				t.Errorf("subject %v, want CN=%s O=%v", cert.Subject, w.cn, w.org)
			}
			if !sameStrings(cert.DNSNames, w.dns) || len(cert.DNSNames) != len(w.dns) {
				t.Errorf("DNS SANs %q, want %q", cert.DNSNames, w.dns)
			}
			if got := ipStrings(cert.IPAddresses); !sameStrings(got, w.ips) || len(got) != len(w.ips) {
				t.Errorf("IP SANs %q, want %q", got, w.ips)
			}
		})
	}
}

// TestEnsureClusterLeavesChain checks every pair, including those the table
// above leaves out, against the CA that must have signed it.
func TestEnsureClusterLeavesChain(t *testing.T) {
	f := mustCluster(t, t.TempDir(), testSpec())
	cas := map[string]*CA{}
	for _, caFile := range []string{f.EtcdCA, f.CA, f.FrontProxyCA} {
		cas[caFile] = loadCA(t, caFile)
	}
	for name, p := range pairs(f) {
		cert := mustReadCert(t, p.Cert)
		if err := checkKey(p.Key, cert); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		signers := 0
		for _, ca := range cas {
			if checkChain(cert, ca, DefaultRenewal(), time.Now()) == nil {
				signers++
			}
		}
		if signers != 1 {
			t.Errorf("%s verifies against %d of the cluster's CAs, want 1", name, signers)
		}
	}
}

// verifyPair checks that p's key matches, and that its certificate chains to
// caFile for exactly the wanted usages.
func verifyPair(t *testing.T, p Pair, caFile string, eku []x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	certPEM, err := os.ReadFile(p.Cert)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, err := os.ReadFile(p.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert := verifyLeaf(t, certPEM, keyPEM, loadCA(t, caFile))
	if !slices.Equal(cert.ExtKeyUsage, eku) {
		t.Errorf("ExtKeyUsage %v, want %v", cert.ExtKeyUsage, eku)
	}
	return cert
}

func loadCA(t *testing.T, caFile string) *CA {
	t.Helper()
	ca, err := LoadCA(caFile, caFile[:len(caFile)-len(".crt")]+".key")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

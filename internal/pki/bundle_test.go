package pki

import (
	"crypto/x509"
	"os"
	"testing"
)

func TestEnsureClusterKeepsSignerInBundle(t *testing.T) {
	dir := t.TempDir()
	f := mustCluster(t, dir, testSpec())
	certs := bundleOf(t, f)
	signer := mustLoadCA(t, f)
	if len(certs) != 1 || !certs[0].Equal(signer.Cert) {
		t.Fatalf("new cluster's bundle holds %d certificates, want the signer alone", len(certs))
	}
	// A successor in the bundle stays there: the bundle is the rotation's to change.
	next, err := NewCA("next")
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, f.CABundle, append(append([]byte{}, signer.CertPEM...), next.CertPEM...))
	mustCluster(t, dir, testSpec())
	if got := bundleOf(t, f); len(got) != 2 || !got[1].Equal(next.Cert) {
		t.Fatalf("bundle holds %d certificates after a pass, want signer and successor", len(got))
	}
}

// A signer swap cut short between its key and its certificate must finish
// the swap from the CA store, not make a CA nothing trusts.
func TestEnsureClusterRecoversInterruptedSignerSwap(t *testing.T) {
	dir := t.TempDir()
	f := mustCluster(t, dir, testSpec())
	next, err := NewCA("next")
	if err != nil {
		t.Fatal(err)
	}
	cf, kf := StoredCAPaths(f.CAStore, CAID(next.Cert))
	if err := WriteCA(next, cf, kf); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(kf)
	if err != nil {
		t.Fatal(err)
	}
	overwrite(t, f.CAKey, key) // the key renamed into place, the certificate not
	mustCluster(t, dir, testSpec())
	if got := mustLoadCA(t, f); !got.Cert.Equal(next.Cert) {
		t.Fatalf("signer after recovery is %s, want the stored successor", got.Cert.Subject.CommonName)
	}
}

func mustLoadCA(t *testing.T, f *ClusterFiles) *CA {
	t.Helper()
	ca, err := LoadCA(f.CA, f.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func bundleOf(t *testing.T, f *ClusterFiles) []*x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(f.CABundle)
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ParseBundle(data)
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

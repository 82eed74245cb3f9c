package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestNewCA(t *testing.T) {
	ca := mustCA(t, "test-ca")
	c := ca.Cert
	if !c.IsCA || c.Subject.CommonName != "test-ca" {
		t.Errorf("IsCA=%v CN=%q", c.IsCA, c.Subject.CommonName)
	}
	want := x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	if c.KeyUsage != want {
		t.Errorf("KeyUsage = %v, want %v", c.KeyUsage, want)
	}
	if life := c.NotAfter.Sub(c.NotBefore); life < 10*365*24*time.Hour {
		t.Errorf("lifetime %v, want 10 years", life)
	}
	if pub, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pub.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", c.PublicKey)
	}
	if _, err := parseCert(ca.CertPEM); err != nil {
		t.Errorf("CertPEM: %v", err)
	}
}

func TestLoadCA(t *testing.T) {
	ca, other := mustCA(t, "ca"), mustCA(t, "other")
	leafPEM, leafKey, err := ca.Issue(client("leaf"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		cert, key     []byte // nil: file absent
		wantErr       error
		wantLoadedKey bool
	}{
		{"valid", ca.CertPEM, keyPEM(t, ca), nil, true},
		{"missing cert", nil, keyPEM(t, ca), fs.ErrNotExist, false},
		{"missing key", ca.CertPEM, nil, fs.ErrNotExist, false},
		{"garbage cert", []byte("not pem"), keyPEM(t, ca), ErrMalformed, false},
		{"garbage key", ca.CertPEM, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), ErrMalformed, false},
		{"key of another CA", ca.CertPEM, keyPEM(t, other), ErrMalformed, false},
		{"leaf, not a CA", leafPEM, leafKey, ErrMalformed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			certFile, keyFile := writeIfSet(t, dir, "ca.crt", tt.cert), writeIfSet(t, dir, "ca.key", tt.key)
			got, err := LoadCA(certFile, keyFile)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantLoadedKey && !keyMatches(got.Key, ca.Cert.PublicKey) {
				t.Error("loaded key does not match")
			}
		})
	}
}

func TestEnsureCA(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	first, created, err := EnsureCA(dir, "ca", "test-ca")
	if err != nil || !created {
		t.Fatalf("first EnsureCA: created=%v err=%v", created, err)
	}
	again, created, err := EnsureCA(dir, "ca", "test-ca")
	if err != nil || created || !again.Cert.Equal(first.Cert) {
		t.Fatalf("second EnsureCA: created=%v err=%v same=%v", created, err, again.Cert.Equal(first.Cert))
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.key"), keyPEM(t, mustCA(t, "x")), 0o600); err != nil {
		t.Fatal(err)
	}
	replaced, created, err := EnsureCA(dir, "ca", "test-ca")
	if err != nil || !created || replaced.Cert.Equal(first.Cert) {
		t.Fatalf("EnsureCA after key swap: created=%v err=%v", created, err)
	}
}

func keyPEM(t *testing.T, ca *CA) []byte {
	t.Helper()
	data, err := encodeKey(ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeIfSet(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if data != nil {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

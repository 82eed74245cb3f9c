package pki

import (
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"testing"
	"time"
)

func TestIssue(t *testing.T) {
	ca := mustCA(t, "ca")
	tests := []struct {
		name    string
		req     CertRequest
		wantEKU []x509.ExtKeyUsage
		wantErr error
	}{
		{"server", CertRequest{CommonName: "s", DNSNames: []string{"a", "a"}, Usage: Server},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, nil},
		{"client", CertRequest{CommonName: "c", Organization: []string{"system:masters"}, Usage: Client},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil},
		{"both", CertRequest{CommonName: "b", IPs: []net.IP{net.ParseIP("10.0.0.1")}, Usage: ServerAndClient},
			[]x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, nil},
		{"no common name", CertRequest{Usage: Client}, nil, ErrInvalidRequest},
		{"no usage", CertRequest{CommonName: "x"}, nil, ErrInvalidRequest},
		{"unknown usage", CertRequest{CommonName: "x", Usage: 8}, nil, ErrInvalidRequest},
		{"nil IP", CertRequest{CommonName: "x", IPs: []net.IP{nil}, Usage: Server}, nil, ErrInvalidRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certPEM, keyPEM, err := ca.Issue(tt.req)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			cert := verifyLeaf(t, certPEM, keyPEM, ca)
			if !slices.Equal(cert.ExtKeyUsage, tt.wantEKU) {
				t.Errorf("ExtKeyUsage = %v, want %v", cert.ExtKeyUsage, tt.wantEKU)
			}
			if err := checkContent(cert, tt.req); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestIssueValidityAndSerial(t *testing.T) {
	ca := mustCA(t, "ca")
	tests := []struct {
		validity, want time.Duration
	}{
		{0, 365 * 24 * time.Hour},
		{48 * time.Hour, 48 * time.Hour},
	}
	for _, tt := range tests {
		before := time.Now()
		certPEM, _, err := ca.Issue(CertRequest{CommonName: "x", Usage: Client, Validity: tt.validity})
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := parseCert(certPEM)
		if d := before.Sub(cert.NotBefore); d < 4*time.Minute || d > 6*time.Minute {
			t.Errorf("NotBefore backdated by %v, want 5m", d)
		}
		if got := cert.NotAfter.Sub(before.Truncate(time.Second)); got < tt.want || got > tt.want+time.Minute {
			t.Errorf("validity %v, want %v", got, tt.want)
		}
		if n := cert.SerialNumber; n.Sign() <= 0 || n.BitLen() > 128 {
			t.Errorf("serial %v not a positive 128-bit number", n)
		}
	}
}

// verifyLeaf checks that a pair is usable under ca and returns its
// certificate.
func verifyLeaf(t *testing.T, certPEM, keyPEM []byte, ca *CA) *x509.Certificate {
	t.Helper()
	cert, err := parseCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !keyMatches(key, cert.PublicKey) {
		t.Fatal("key does not match certificate")
	}
	if err := checkChain(cert, ca, DefaultRenewal(), time.Now()); err != nil {
		t.Fatal(err)
	}
	return cert
}

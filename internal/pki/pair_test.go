package pki

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestEnsurePair(t *testing.T) {
	base := CertRequest{
		CommonName:   "svc",
		Organization: []string{"o1", "o2"},
		DNSNames:     []string{"svc", "svc.local"},
		IPs:          []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("::1")},
		Usage:        Server,
	}
	with := func(edit func(*CertRequest)) CertRequest {
		r := base
		edit(&r)
		return r
	}
	ca, otherCA := mustCA(t, "ca"), mustCA(t, "other")
	tests := []struct {
		name       string
		req        CertRequest
		ca         *CA
		tamper     func(t *testing.T, dir string) // applied between the two calls
		wantIssued bool
	}{
		{"same request", base, ca, nil, false},
		{"same sets in another order", with(func(r *CertRequest) {
			r.DNSNames = []string{"svc.local", "svc", "svc"}
			r.IPs = []net.IP{net.ParseIP("::1"), net.ParseIP("10.0.0.1").To4()}
			r.Organization = []string{"o2", "o1"}
		}), ca, nil, false},
		{"DNS name added", with(func(r *CertRequest) { r.DNSNames = append(r.DNSNames, "new") }), ca, nil, true},
		{"IP changed", with(func(r *CertRequest) { r.IPs = []net.IP{net.ParseIP("10.0.0.2")} }), ca, nil, true},
		{"common name changed", with(func(r *CertRequest) { r.CommonName = "other" }), ca, nil, true},
		{"organization dropped", with(func(r *CertRequest) { r.Organization = nil }), ca, nil, true},
		{"usage widened", with(func(r *CertRequest) { r.Usage = ServerAndClient }), ca, nil, true},
		{"other CA", base, otherCA, nil, true},
		{"key swapped", base, ca, func(t *testing.T, dir string) {
			_, key, _ := ca.Issue(base)
			overwrite(t, filepath.Join(dir, "svc.key"), key)
		}, true},
		{"cert corrupt", base, ca, func(t *testing.T, dir string) {
			overwrite(t, filepath.Join(dir, "svc.crt"), []byte("garbage"))
		}, true},
		{"key missing", base, ca, func(t *testing.T, dir string) {
			mustRemove(t, filepath.Join(dir, "svc.key"))
		}, true},
		{"expiring within 30 days", base, ca, func(t *testing.T, dir string) {
			cert, key, _ := ca.Issue(with(func(r *CertRequest) { r.Validity = 20 * 24 * time.Hour }))
			overwrite(t, filepath.Join(dir, "svc.key"), key)
			overwrite(t, filepath.Join(dir, "svc.crt"), cert)
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if issued, err := EnsurePair(dir, "svc", ca, base); err != nil || !issued {
				t.Fatalf("first EnsurePair: issued=%v err=%v", issued, err)
			}
			if tt.tamper != nil {
				tt.tamper(t, dir)
			}
			issued, err := EnsurePair(dir, "svc", tt.ca, tt.req)
			if err != nil || issued != tt.wantIssued {
				t.Fatalf("second EnsurePair: issued=%v err=%v, want issued=%v", issued, err, tt.wantIssued)
			}
			if _, err := checkPair(filepath.Join(dir, "svc.crt"), filepath.Join(dir, "svc.key"), tt.ca, tt.req, DefaultRenewal(), time.Now()); err != nil {
				t.Errorf("pair on disk does not fit the request: %v", err)
			}
		})
	}
}

func TestEnsurePairInvalidRequest(t *testing.T) {
	_, err := EnsurePair(t.TempDir(), "x", mustCA(t, "ca"), CertRequest{Usage: Client})
	if !errors.Is(err, ErrInvalidRequest) {
		t.Fatalf("err = %v, want ErrInvalidRequest", err)
	}
}

func overwrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustRemove(t *testing.T, path string) {
	t.Helper()
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
}

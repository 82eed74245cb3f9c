package pki

import (
	"errors"
	"os"
	"slices"
	"testing"
	"time"
)

func TestRenewalValidate(t *testing.T) {
	tests := []struct {
		name string
		ren  Renewal
		ok   bool
	}{
		{"default", DefaultRenewal(), true},
		{"short, for tests", Renewal{Lifetime: 2 * time.Minute, RenewBefore: time.Minute}, true},
		{"zero lifetime", Renewal{RenewBefore: time.Minute}, false},
		{"negative lifetime", Renewal{Lifetime: -time.Hour, RenewBefore: time.Minute}, false},
		{"outlives the CA", Renewal{Lifetime: caValidity + time.Hour, RenewBefore: time.Hour}, false},
		{"renews too late to reload", Renewal{Lifetime: time.Hour, RenewBefore: 30 * time.Second}, false},
		{"renews at once", Renewal{Lifetime: time.Hour, RenewBefore: time.Hour}, false},
		{"renews after expiry", Renewal{Lifetime: time.Hour, RenewBefore: 2 * time.Hour}, false},
		{"in use a moment only", Renewal{Lifetime: 80 * time.Second, RenewBefore: time.Minute}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.ren.Validate()
			if (err == nil) != tt.ok || (err != nil && !errors.Is(err, ErrInvalidRenewal)) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestEnsureClusterWithLifetime(t *testing.T) {
	dir := t.TempDir()
	ren := Renewal{Lifetime: 2 * time.Minute, RenewBefore: time.Minute}
	start := time.Now()
	f, out, err := EnsureClusterWith(dir, testSpec(), ren)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Issued) != 15 {
		t.Errorf("issued %d leaves on a new cluster, want 15: %v", len(out.Issued), out.Issued)
	}
	for name, p := range pairs(f) {
		cert := mustReadCert(t, p.Cert)
		if life := cert.NotAfter.Sub(start); life < ren.Lifetime-time.Second || life > ren.Lifetime+time.Second {
			t.Errorf("%s lives %s from now, want %s", name, life, ren.Lifetime)
		}
	}
	// The next renewal is the earliest leaf's expiry less RenewBefore: about
	// a minute from now.
	if d := time.Until(out.Next); d < 50*time.Second || d > 61*time.Second {
		t.Errorf("next renewal in %s, want about a minute", d)
	}
	_, again, err := EnsureClusterWith(dir, testSpec(), ren)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Issued) != 0 {
		t.Errorf("second pass reissued %v", again.Issued)
	}
}

// TestEnsureClusterWithRenewsInWindow: a leaf inside its renewal window is
// reissued, and only it; lowering the lifetime reissues every leaf at once.
func TestEnsureClusterWithRenewsInWindow(t *testing.T) {
	dir := t.TempDir()
	f := mustCluster(t, dir, testSpec())
	ca := loadCA(t, f.CA)
	// A controller-manager certificate that expires in 20 days is within the
	// default 30-day window.
	req := client("system:kube-controller-manager")
	req.Validity = 20 * 24 * time.Hour
	certPEM, keyPEM, err := ca.Issue(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := writePair(f.ControllerManager.Cert, f.ControllerManager.Key, certPEM, keyPEM); err != nil {
		t.Fatal(err)
	}
	_, out, err := EnsureClusterWith(dir, testSpec(), DefaultRenewal())
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Issued, []string{"controller-manager"}) {
		t.Errorf("renewed %v, want only the controller-manager", out.Issued)
	}
	if life := time.Until(mustReadCert(t, f.ControllerManager.Cert).NotAfter); life < DefaultLeafLifetime-time.Minute {
		t.Errorf("renewed certificate lives %s, want a year", life)
	}
	_, out, err = EnsureClusterWith(dir, testSpec(), Renewal{Lifetime: time.Hour, RenewBefore: 10 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Issued) != 15 {
		t.Errorf("lowering the lifetime reissued %d leaves, want all 15", len(out.Issued))
	}
}

func TestEnsureClusterWithRefusesBadRenewal(t *testing.T) {
	dir := t.TempDir()
	_, _, err := EnsureClusterWith(dir, testSpec(), Renewal{Lifetime: time.Minute, RenewBefore: time.Hour})
	if !errors.Is(err, ErrInvalidRenewal) {
		t.Fatalf("err = %v, want ErrInvalidRenewal", err)
	}
	if entries, err := os.ReadDir(dir); err != nil || len(entries) != 0 {
		t.Errorf("a refused renewal left %v (%v) behind", entries, err)
	}
}

package pki

import (
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// renewBefore is how close to expiry a certificate may get before EnsurePair
// replaces it, leaving a month for components to pick up the new one.
const renewBefore = 30 * 24 * time.Hour

// EnsurePair makes dir/name.crt and dir/name.key hold a pair signed by ca
// that satisfies req. An existing pair is kept when it still does, so
// rerunning after a crash is a no-op; it reports whether it issued a new one.
func EnsurePair(dir, name string, ca *CA, req CertRequest) (bool, error) {
	cert, key := pairPaths(dir, name)
	issued, err := ensurePair(Pair{Cert: cert, Key: key}, ca, req)
	if err != nil {
		return false, fmt.Errorf("ensuring %s: %w", name, err)
	}
	return issued, nil
}

func ensurePair(p Pair, ca *CA, req CertRequest) (bool, error) {
	if err := req.validate(); err != nil {
		return false, err
	}
	if err := ensureDir(filepath.Dir(p.Cert)); err != nil {
		return false, err
	}
	err := checkPair(p.Cert, p.Key, ca, req, time.Now())
	if err == nil {
		return false, nil
	}
	if !replaceable(err) {
		return false, fmt.Errorf("checking: %w", err)
	}
	if err := issuePair(p.Cert, p.Key, ca, req); err != nil {
		return false, fmt.Errorf("issuing: %w", err)
	}
	return true, nil
}

func issuePair(certFile, keyFile string, ca *CA, req CertRequest) error {
	certPEM, keyPEM, err := ca.Issue(req)
	if err != nil {
		return err
	}
	return writePair(certFile, keyFile, certPEM, keyPEM)
}

// checkPair returns nil when the files on disk can be kept for req, an error
// for which replaceable holds when they must be reissued, and any other error
// when they could not be read.
func checkPair(certFile, keyFile string, ca *CA, req CertRequest, now time.Time) error {
	cert, err := readCert(certFile)
	if err != nil {
		return err
	}
	if err := checkKey(keyFile, cert); err != nil {
		return err
	}
	if err := checkChain(cert, ca, now); err != nil {
		return err
	}
	return checkContent(cert, req)
}

func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseCert(data)
}

func checkKey(keyFile string, cert *x509.Certificate) error {
	data, err := os.ReadFile(keyFile)
	if err != nil {
		return err
	}
	key, err := parseKey(data)
	if err != nil {
		return err
	}
	if !keyMatches(key, cert.PublicKey) {
		return fmt.Errorf("%w: key does not match certificate", ErrMalformed)
	}
	return nil
}

// checkChain rejects a certificate from another CA, which is how leaves follow
// a CA that was regenerated, and one close to expiry.
func checkChain(cert *x509.Certificate, ca *CA, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	opts := x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if _, err := cert.Verify(opts); err != nil {
		return fmt.Errorf("%w: %w", errStale, err)
	}
	if now.Add(renewBefore).After(cert.NotAfter) {
		return fmt.Errorf("%w: expires %s", errStale, cert.NotAfter.Format(time.RFC3339))
	}
	return nil
}

func checkContent(cert *x509.Certificate, req CertRequest) error {
	switch {
	case cert.Subject.CommonName != req.CommonName:
		return fmt.Errorf("%w: common name %q, want %q", errStale, cert.Subject.CommonName, req.CommonName)
	case !sameStrings(cert.Subject.Organization, req.Organization):
		return fmt.Errorf("%w: organization %q, want %q", errStale, cert.Subject.Organization, req.Organization)
	case !sameStrings(cert.DNSNames, req.DNSNames):
		return fmt.Errorf("%w: DNS names %q, want %q", errStale, cert.DNSNames, req.DNSNames)
	case !sameIPs(cert.IPAddresses, req.IPs):
		return fmt.Errorf("%w: IPs %v, want %v", errStale, cert.IPAddresses, req.IPs)
	case !slices.Equal(cert.ExtKeyUsage, req.Usage.extKeyUsages()):
		return fmt.Errorf("%w: extended key usages %v differ from request", errStale, cert.ExtKeyUsage)
	}
	return nil
}

package pki

import (
	"cmp"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// lifetimeSlack is how far a certificate's expiry may lie beyond the
// configured lifetime from now before it counts as issued under a longer
// lifetime, and is replaced: lowering the lifetime takes effect at once.
const lifetimeSlack = time.Minute

// EnsurePair makes dir/name.crt and dir/name.key hold a pair signed by ca
// that satisfies req. An existing pair is kept when it still does, so
// rerunning after a crash is a no-op; it reports whether it issued a new one.
// The pair lives req.Validity (a year when zero) and is renewed 30 days
// before it expires.
func EnsurePair(dir, name string, ca *CA, req CertRequest) (bool, error) {
	cert, key := pairPaths(dir, name)
	ren := Renewal{Lifetime: cmp.Or(req.Validity, DefaultLeafLifetime), RenewBefore: DefaultLeafRenewBefore}
	issued, _, err := ensurePair(Pair{Cert: cert, Key: key}, ca, req, ren)
	if err != nil {
		return false, fmt.Errorf("ensuring %s: %w", name, err)
	}
	return issued, nil
}

// ensurePair keeps or reissues p under ren and returns whether it issued and
// when the pair on disk expires. req.Validity is replaced by ren.Lifetime.
func ensurePair(p Pair, ca *CA, req CertRequest, ren Renewal) (bool, time.Time, error) {
	req.Validity = ren.Lifetime
	if err := req.validate(); err != nil {
		return false, time.Time{}, err
	}
	if err := ensureDir(filepath.Dir(p.Cert)); err != nil {
		return false, time.Time{}, err
	}
	notAfter, err := checkPair(p.Cert, p.Key, ca, req, ren, time.Now())
	if err == nil {
		return false, notAfter, nil
	}
	if !replaceable(err) {
		return false, time.Time{}, fmt.Errorf("checking: %w", err)
	}
	if notAfter, err = issuePair(p.Cert, p.Key, ca, req); err != nil {
		return false, time.Time{}, fmt.Errorf("issuing: %w", err)
	}
	return true, notAfter, nil
}

func issuePair(certFile, keyFile string, ca *CA, req CertRequest) (time.Time, error) {
	certPEM, keyPEM, err := ca.Issue(req)
	if err != nil {
		return time.Time{}, err
	}
	cert, err := parseCert(certPEM)
	if err != nil {
		return time.Time{}, err
	}
	return cert.NotAfter, writePair(certFile, keyFile, certPEM, keyPEM)
}

// checkPair returns the certificate's expiry when the files on disk can be
// kept for req, an error for which replaceable holds when they must be
// reissued, and any other error when they could not be read.
func checkPair(certFile, keyFile string, ca *CA, req CertRequest, ren Renewal, now time.Time) (time.Time, error) {
	cert, err := readCert(certFile)
	if err != nil {
		return time.Time{}, err
	}
	if err := checkKey(keyFile, cert); err != nil {
		return time.Time{}, err
	}
	if err := checkChain(cert, ca, ren, now); err != nil {
		return time.Time{}, err
	}
	return cert.NotAfter, checkContent(cert, req)
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
// a CA that was regenerated, one close to expiry, and one issued under a
// longer lifetime than ren allows.
func checkChain(cert *x509.Certificate, ca *CA, ren Renewal, now time.Time) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	opts := x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}
	if _, err := cert.Verify(opts); err != nil {
		return fmt.Errorf("%w: %w", errStale, err)
	}
	if now.Add(ren.RenewBefore).After(cert.NotAfter) {
		return fmt.Errorf("%w: expires %s", errStale, cert.NotAfter.Format(time.RFC3339))
	}
	if cert.NotAfter.After(now.Add(ren.Lifetime + lifetimeSlack)) {
		return fmt.Errorf("%w: expires %s, beyond the lifetime of %s", errStale, cert.NotAfter.Format(time.RFC3339), ren.Lifetime)
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

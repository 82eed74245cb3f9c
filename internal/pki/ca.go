package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

const caValidity = 10 * 365 * 24 * time.Hour

// CA is a certificate authority whose key is held in memory.
type CA struct {
	Cert    *x509.Certificate
	Key     crypto.Signer
	CertPEM []byte
}

// NewCA creates a self-signed CA valid for ten years: rotating a tenant's CA
// means restarting every component, so it should outlive most clusters.
func NewCA(commonName string) (*CA, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	tmpl, err := baseTemplate(pkix.Name{CommonName: commonName}, time.Now(), caValidity)
	if err != nil {
		return nil, err
	}
	tmpl.IsCA = true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("self-signing CA %s: %w", commonName, err)
	}
	return newCAFromDER(der, key)
}

func newCAFromDER(der []byte, key crypto.Signer) (*CA, error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing new CA certificate: %w", err)
	}
	return &CA{Cert: cert, Key: key, CertPEM: encodeCert(der)}, nil
}

// LoadCA reads a CA from PEM files. Errors for files that exist but cannot
// serve as this CA wrap ErrMalformed.
func LoadCA(certFile, keyFile string) (*CA, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("reading CA certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("reading CA key: %w", err)
	}
	ca, err := parseCA(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("loading CA from %s: %w", certFile, err)
	}
	return ca, nil
}

func parseCA(certPEM, keyPEM []byte) (*CA, error) {
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, err
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("%w: certificate is not a CA", ErrMalformed)
	}
	key, err := parseKey(keyPEM)
	if err != nil {
		return nil, err
	}
	if !keyMatches(key, cert.PublicKey) {
		return nil, fmt.Errorf("%w: key does not match certificate", ErrMalformed)
	}
	return &CA{Cert: cert, Key: key, CertPEM: certPEM}, nil
}

// EnsureCA loads dir/name.crt and dir/name.key, or creates and writes a new
// CA when they are missing or unusable. It reports whether it created one;
// callers must then treat every leaf signed by the old CA as stale, which
// EnsurePair does by itself.
func EnsureCA(dir, name, commonName string) (*CA, bool, error) {
	certFile, keyFile := pairPaths(dir, name)
	return ensureCA(certFile, keyFile, commonName)
}

func ensureCA(certFile, keyFile, commonName string) (*CA, bool, error) {
	ca, created, err := loadOrNewCA(certFile, keyFile, commonName)
	if err != nil || !created {
		return ca, false, err
	}
	if err := writeCA(ca, certFile, keyFile); err != nil {
		return nil, false, err
	}
	return ca, true, nil
}

// loadOrNewCA returns the CA on disk or, when there is none usable, a new one
// that the caller must write with writeCA.
func loadOrNewCA(certFile, keyFile, commonName string) (*CA, bool, error) {
	ca, err := LoadCA(certFile, keyFile)
	if err == nil {
		return ca, false, nil
	}
	if !replaceable(err) {
		return nil, false, fmt.Errorf("ensuring CA %s: %w", commonName, err)
	}
	if ca, err = NewCA(commonName); err != nil {
		return nil, false, fmt.Errorf("ensuring CA %s: %w", commonName, err)
	}
	return ca, true, nil
}

func writeCA(ca *CA, certFile, keyFile string) error {
	if err := ensureDir(filepath.Dir(certFile)); err != nil {
		return err
	}
	keyPEM, err := encodeKey(ca.Key)
	if err != nil {
		return err
	}
	if err := writePair(certFile, keyFile, ca.CertPEM, keyPEM); err != nil {
		return fmt.Errorf("writing CA %s: %w", ca.Cert.Subject.CommonName, err)
	}
	return nil
}

// replaceable tells apart files we may overwrite (absent or garbage) from
// read failures that may be transient, where overwriting would rotate a CA or
// key that is in fact fine.
func replaceable(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrMalformed) || errors.Is(err, errStale)
}

func pairPaths(dir, name string) (certFile, keyFile string) {
	return filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
}

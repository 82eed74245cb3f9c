package pki

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// A cluster's Kubernetes CA comes in two parts. The signer (ca.crt, ca.key)
// signs every leaf; the trust bundle (ca-bundle.crt) lists every CA the
// cluster trusts, and is what every component verifies against. Outside a CA
// rotation the bundle holds the signer alone. During one it holds the
// successor too, so that leaves of either verify everywhere and the signer can
// change without a failed request (internal/cell/carotation).
//
// Each CA that ever was part of a rotation is also kept by ID under cas/, so
// the signer can be swapped in and a swap cut short by a crash recovered.

// CAID is the ID a CA is known by on the wire: a UUID-shaped digest of its
// certificate, so the cluster's first CA has a stable ID without a record.
func CAID(cert *x509.Certificate) string {
	s := sha256.Sum256(cert.Raw)
	h := fmt.Sprintf("%x", s[:16])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// StoredCAPaths is where the CA with id is kept under store.
func StoredCAPaths(store, id string) (certFile, keyFile string) {
	return pairPaths(store, id)
}

// WriteCA writes ca to its two files, key first (see writePair).
func WriteCA(ca *CA, certFile, keyFile string) error { return writeCA(ca, certFile, keyFile) }

// ParseBundle returns the certificates of a PEM bundle, in order.
func ParseBundle(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%w: trust bundle: %w", ErrMalformed, err)
		}
		out = append(out, cert)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: trust bundle holds no certificate", ErrMalformed)
	}
	return out, nil
}

// EncodeBundle is the PEM bundle of certs, in order.
func EncodeBundle(certs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		b.Write(encodeCert(c.Raw))
	}
	return b.Bytes()
}

// ensureBundle makes sure the trust bundle holds the signer: a new cluster's
// bundle is the signer alone; a bundle that lost the signer (a signer remade
// after its files were lost) gets it first, keeping what it trusted.
func ensureBundle(f *ClusterFiles) error {
	signer, err := os.ReadFile(f.CA)
	if err != nil {
		return fmt.Errorf("reading CA for the trust bundle: %w", err)
	}
	sc, err := parseCert(signer)
	if err != nil {
		return fmt.Errorf("reading CA for the trust bundle: %w", err)
	}
	var kept []*x509.Certificate
	data, err := os.ReadFile(f.CABundle)
	switch {
	case err == nil:
		if certs, perr := ParseBundle(data); perr == nil {
			for _, c := range certs {
				if c.Equal(sc) {
					return nil
				}
			}
			kept = certs
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("reading trust bundle: %w", err)
	}
	out := EncodeBundle(append([]*x509.Certificate{sc}, kept...))
	if err := WriteFileAtomic(f.CABundle, out, certPerm); err != nil {
		return fmt.Errorf("writing trust bundle: %w", err)
	}
	return nil
}

// recoverSigner finds, among the stored CAs, the one a broken signer pair
// was being replaced with or by: a swap writes the key, then the
// certificate, so a crash between leaves one of the two files of the new CA.
// Without this the broken pair would make a brand-new CA that nothing trusts.
func recoverSigner(f *ClusterFiles) (*CA, bool) {
	if f.CAStore == "" {
		return nil, false
	}
	certPEM, _ := os.ReadFile(f.CA)
	keyPEM, _ := os.ReadFile(f.CAKey)
	if len(certPEM) == 0 && len(keyPEM) == 0 {
		return nil, false
	}
	entries, err := os.ReadDir(f.CAStore)
	if err != nil {
		return nil, false
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".crt")
		if !ok {
			continue
		}
		cf, kf := StoredCAPaths(f.CAStore, id)
		ca, err := LoadCA(cf, kf)
		if err != nil {
			continue
		}
		storedKey, _ := os.ReadFile(kf)
		if bytes.Equal(ca.CertPEM, certPEM) || (len(keyPEM) > 0 && bytes.Equal(storedKey, keyPEM)) {
			return ca, true
		}
	}
	return nil, false
}

// caStoreDir is where CAs are kept by ID.
func caStoreDir(dir string) string { return filepath.Join(dir, "cas") }

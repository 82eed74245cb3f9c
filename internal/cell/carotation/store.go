package carotation

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/pki"
)

// wanted is the spec's list of CAs, or the cluster's one CA when the tenant
// never rotated: the signer, made by the service.
func wanted(c *v1alpha1.Cluster, signer *pki.CA) []v1alpha1.CertificateAuthority {
	if len(c.Spec.CertificateAuthorities) > 0 {
		return c.Spec.CertificateAuthorities
	}
	return []v1alpha1.CertificateAuthority{{ID: pki.CAID(signer.Cert), CreatedBy: v1alpha1.CABySystem, Signer: true}}
}

// ensureStored returns the CA kept under id, making it when it is not there:
// the signer's own copy for its ID, a new CA for any other.
func ensureStored(f *pki.ClusterFiles, id, cluster string, signer *pki.CA) (*pki.CA, error) {
	cf, kf := pki.StoredCAPaths(f.CAStore, id)
	ca, err := pki.LoadCA(cf, kf)
	if err == nil {
		return ca, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("loading CA %s: %w", id, err)
	}
	ca = signer
	if id != pki.CAID(signer.Cert) {
		if ca, err = pki.NewCA(cluster + "-ca-" + id[:8]); err != nil {
			return nil, fmt.Errorf("making CA %s: %w", id, err)
		}
	}
	if err := pki.WriteCA(ca, cf, kf); err != nil {
		return nil, fmt.Errorf("storing CA %s: %w", id, err)
	}
	return ca, nil
}

// storedIDs lists the IDs of the CAs in the store.
func storedIDs(f *pki.ClusterFiles) ([]string, error) {
	entries, err := os.ReadDir(f.CAStore)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing stored CAs: %w", err)
	}
	var out []string
	for _, e := range entries {
		if id, ok := strings.CutSuffix(e.Name(), ".crt"); ok {
			out = append(out, id)
		}
	}
	return out, nil
}

// removeStored forgets a retired CA, key first.
func removeStored(f *pki.ClusterFiles, id string) error {
	cf, kf := pki.StoredCAPaths(f.CAStore, id)
	for _, path := range []string{kf, cf} {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing retired CA %s: %w", id, err)
		}
	}
	return nil
}

// writeBundle makes the trust bundle list certs, in order, and reports
// whether it changed.
func writeBundle(f *pki.ClusterFiles, certs []*x509.Certificate) (bool, error) {
	want := pki.EncodeBundle(certs)
	have, err := os.ReadFile(f.CABundle)
	if err == nil && bytes.Equal(have, want) {
		return false, nil
	}
	if err := pki.WriteFileAtomic(f.CABundle, want, 0o644); err != nil {
		return false, fmt.Errorf("writing trust bundle: %w", err)
	}
	return true, nil
}

package pki

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// Usage says which side of a TLS connection a certificate may take.
type Usage int

const (
	Server Usage = 1 << iota
	Client
	ServerAndClient = Server | Client
)

const (
	defaultValidity = 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so that a peer whose clock runs a little
	// behind ours does not reject a certificate issued a moment ago.
	clockSkew = 5 * time.Minute
)

// CertRequest describes a leaf certificate to issue.
type CertRequest struct {
	CommonName   string
	Organization []string
	DNSNames     []string
	IPs          []net.IP
	Usage        Usage
	Validity     time.Duration // 1 year when zero
}

func (u Usage) extKeyUsages() []x509.ExtKeyUsage {
	var out []x509.ExtKeyUsage
	if u&Server != 0 {
		out = append(out, x509.ExtKeyUsageServerAuth)
	}
	if u&Client != 0 {
		out = append(out, x509.ExtKeyUsageClientAuth)
	}
	return out
}

func (r CertRequest) validate() error {
	if r.CommonName == "" {
		return fmt.Errorf("%w: empty common name", ErrInvalidRequest)
	}
	if r.Usage&^ServerAndClient != 0 || r.Usage == 0 {
		return fmt.Errorf("%w: %s: unknown usage %d", ErrInvalidRequest, r.CommonName, r.Usage)
	}
	if slices.Contains(r.DNSNames, "") || slices.ContainsFunc(r.IPs, func(ip net.IP) bool { return ip == nil }) {
		return fmt.Errorf("%w: %s: empty DNS name or IP", ErrInvalidRequest, r.CommonName)
	}
	return nil
}

// Issue signs a new key pair for req and returns both as PEM.
func (ca *CA) Issue(req CertRequest) (certPEM, keyPEM []byte, err error) {
	if err := req.validate(); err != nil {
		return nil, nil, err
	}
	key, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	tmpl, err := leafTemplate(req, time.Now())
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("signing certificate for %s: %w", req.CommonName, err)
	}
	if keyPEM, err = encodeKey(key); err != nil {
		return nil, nil, err
	}
	return encodeCert(der), keyPEM, nil
}

func leafTemplate(req CertRequest, now time.Time) (*x509.Certificate, error) {
	validity := req.Validity
	if validity == 0 {
		validity = defaultValidity
	}
	tmpl, err := baseTemplate(pkix.Name{CommonName: req.CommonName, Organization: req.Organization}, now, validity)
	if err != nil {
		return nil, err
	}
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	tmpl.ExtKeyUsage = req.Usage.extKeyUsages()
	tmpl.DNSNames = uniqueStrings(req.DNSNames)
	tmpl.IPAddresses = uniqueIPs(req.IPs)
	return tmpl, nil
}

func baseTemplate(subject pkix.Name, now time.Time, validity time.Duration) (*x509.Certificate, error) {
	serial, err := newSerial()
	if err != nil {
		return nil, err
	}
	return &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(validity),
		BasicConstraintsValid: true,
	}, nil
}

// newSerial returns a random 128-bit serial: unique without keeping state,
// and unpredictable, as RFC 5280 and the CA/B forum ask.
func newSerial() (*big.Int, error) {
	one := big.NewInt(1)
	limit := new(big.Int).Lsh(one, 128)
	// Draw from [0, 2^128-1) and add one: zero is not a valid serial.
	n, err := rand.Int(rand.Reader, limit.Sub(limit, one))
	if err != nil {
		return nil, fmt.Errorf("generating serial number: %w", err)
	}
	return n.Add(n, one), nil
}

package csrapproval

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Nodes tells which nodes may have serving certificates: those of the
// cluster's node groups, with the addresses their machines were given.
type Nodes interface {
	// Addresses returns the addresses of the named node, and false when the
	// name is not one of the cluster's node groups' nodes.
	Addresses(ctx context.Context, node string) ([]netip.Addr, bool, error)
}

// Static is a fixed set of nodes and their addresses.
type Static map[string][]netip.Addr

// Addresses implements Nodes.
func (s Static) Addresses(_ context.Context, node string) ([]netip.Addr, bool, error) {
	a, ok := s[node]
	return a, ok, nil
}

// Decision is what to do with a request.
type Decision struct {
	Approve bool
	Reason  string // a CamelCase reason for the condition
	Message string
}

const nodePrefix = "system:node:"

// Decide judges a kubelet-serving request. It is pure: nothing is written.
// ok is false for a request that is not for the kubelet-serving signer, or
// already decided: those are not this package's to touch.
func Decide(ctx context.Context, csr *certificatesv1.CertificateSigningRequest, nodes Nodes) (d Decision, ok bool, err error) {
	if csr.Spec.SignerName != certificatesv1.KubeletServingSignerName || decided(csr) {
		return Decision{}, false, nil
	}
	deny := func(format string, args ...any) (Decision, bool, error) {
		return Decision{Reason: "CellplaneNodeCheckFailed", Message: fmt.Sprintf(format, args...)}, true, nil
	}
	node, isNode := strings.CutPrefix(csr.Spec.Username, nodePrefix)
	if !isNode || node == "" || !slices.Contains(csr.Spec.Groups, "system:nodes") {
		return deny("requested by %q, not by a node", csr.Spec.Username)
	}
	req, err := parse(csr.Spec.Request)
	if err != nil {
		return deny("%v", err)
	}
	if req.Subject.CommonName != csr.Spec.Username || !slices.Equal(req.Subject.Organization, []string{"system:nodes"}) {
		return deny("subject %q does not name the requesting node %s in system:nodes", req.Subject, node)
	}
	if len(req.EmailAddresses) > 0 || len(req.URIs) > 0 {
		return deny("e-mail or URI names are never part of a kubelet's serving certificate")
	}
	if err := checkUsages(csr.Spec.Usages); err != nil {
		return deny("%v", err)
	}
	addrs, member, err := nodes.Addresses(ctx, node)
	if err != nil {
		return Decision{}, false, fmt.Errorf("looking up node %s: %w", node, err)
	}
	if !member {
		return deny("node %s is not in any of the cluster's node groups", node)
	}
	for _, dns := range req.DNSNames {
		if dns != node {
			return deny("DNS name %q is not the node's name %s", dns, node)
		}
	}
	if len(req.IPAddresses) == 0 && len(req.DNSNames) == 0 {
		return deny("the request names no address")
	}
	for _, ip := range req.IPAddresses {
		a, ok := netip.AddrFromSlice(ip)
		if !ok || !slices.Contains(addrs, a.Unmap()) {
			return deny("address %s is not one of node %s's", ip, node)
		}
	}
	return Decision{Approve: true, Reason: "CellplaneNodeCheckPassed", Message: "node " + node + " of the cluster's node groups, at its own addresses"}, true, nil
}

func decided(csr *certificatesv1.CertificateSigningRequest) bool {
	for _, c := range csr.Status.Conditions {
		if c.Type == certificatesv1.CertificateApproved || c.Type == certificatesv1.CertificateDenied {
			return true
		}
	}
	return false
}

func parse(data []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("the request is not a PEM certificate request")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the request: %w", err)
	}
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("the request's signature: %w", err)
	}
	return req, nil
}

// checkUsages allows what the kubelet asks for and the signer permits:
// server auth, with digital signature and, for RSA keys, key encipherment.
func checkUsages(usages []certificatesv1.KeyUsage) error {
	allowed := []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}
	if !slices.Contains(usages, certificatesv1.UsageServerAuth) {
		return fmt.Errorf("usages %v lack server auth", usages)
	}
	for _, u := range usages {
		if !slices.Contains(allowed, u) {
			return fmt.Errorf("usage %q is not for a kubelet's serving certificate", u)
		}
	}
	return nil
}

// Review decides csr and records the decision in the cluster. It reports
// whether it decided; a request that is not its business is left alone.
func Review(ctx context.Context, cs kubernetes.Interface, csr *certificatesv1.CertificateSigningRequest, nodes Nodes) (bool, error) {
	d, ok, err := Decide(ctx, csr, nodes)
	if err != nil || !ok {
		return false, err
	}
	typ := certificatesv1.CertificateDenied
	if d.Approve {
		typ = certificatesv1.CertificateApproved
	}
	csr = csr.DeepCopy()
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: typ, Status: corev1.ConditionTrue, Reason: d.Reason, Message: d.Message, LastUpdateTime: metav1.Now(),
	})
	if _, err := cs.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, csr.Name, csr, metav1.UpdateOptions{}); err != nil {
		return false, fmt.Errorf("recording the decision on %s: %w", csr.Name, err)
	}
	return true, nil
}

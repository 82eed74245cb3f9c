package v1alpha1

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strings"
)

// DefaultAccount is the account `cellplane up` creates for its first user.
const DefaultAccount = "000000000000"

// MaxNameLength is EKS's limit on cluster names.
const MaxNameLength = 100

var (
	namePattern = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9\-_]*$`)
	dnsLabel    = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
)

// ValidName reports whether name follows EKS's cluster name rules: 1 to 100
// characters, letters, digits, hyphens and underscores, starting alphanumeric.
func ValidName(name string) bool {
	return len(name) >= 1 && len(name) <= MaxNameLength && namePattern.MatchString(name)
}

// ObjectName maps a cluster name to the Kubernetes object name that stores it. Names
// that are already DNS labels map to themselves, so stores stay readable; others
// (capitals, underscores, long names) get a lowercase stem plus a hash of the
// original, so "Prod" and "prod" never collide.
func ObjectName(name string) string {
	if len(name) <= 63 && dnsLabel.MatchString(name) {
		return name
	}
	stem := strings.Trim(strings.ReplaceAll(strings.ToLower(name), "_", "-"), "-")
	if len(stem) > 50 {
		stem = strings.TrimRight(stem[:50], "-")
	}
	sum := sha256.Sum256([]byte(name))
	return stem + "-" + hex.EncodeToString(sum[:4])
}

// Namespace is the store namespace that holds an account's clusters.
func Namespace(account string) string { return "acct-" + account }

// KubeconfigSecretName names the Secret holding a cluster's admin kubeconfig, which
// the cell writes and the region serves.
func KubeconfigSecretName(objectName string) string { return objectName + "-admin-kubeconfig" }

// KubeconfigSecretKey is the key of the kubeconfig inside that Secret.
const KubeconfigSecretKey = "kubeconfig"

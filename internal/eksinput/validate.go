package eksinput

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// Limits on tags and tokens, as AWS sets them.
const (
	maxTags           = 50
	maxTagKeyLength   = 128
	maxTagValueLength = 256
	maxTokenLength    = 64
	// MaxEchoBytes bounds the EKS fields stored only to be echoed; annotations
	// share a 256 KiB budget per object.
	MaxEchoBytes = 16 << 10
)

const nameRule = "The cluster name must be 1-100 characters, start with a letter or digit, and contain only letters, digits, hyphens and underscores."

// tagPattern is AWS's character set for tag keys and values.
var tagPattern = regexp.MustCompile(`^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`)

// ValidateCreate checks a CreateCluster request and returns the Kubernetes minor
// it asks for, defaulted.
func ValidateCreate(in *eks.CreateClusterInput) (string, error) {
	if err := validateName(in.Name); err != nil {
		return "", err
	}
	minor, err := clusterversions.Resolve(in.Version)
	if err != nil {
		return "", err
	}
	if err := ValidateTags(in.Tags); err != nil {
		return "", err
	}
	if o := in.Cellplane; o != nil && o.EtcdQuotaBytes != 0 &&
		(o.EtcdQuotaBytes < v1alpha1.MinEtcdQuotaBytes || o.EtcdQuotaBytes > v1alpha1.MaxEtcdQuotaBytes) {
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "cellplane.etcdQuotaBytes must be from %d (16 MiB) to %d (8 GiB); got %d.",
			v1alpha1.MinEtcdQuotaBytes, v1alpha1.MaxEtcdQuotaBytes, o.EtcdQuotaBytes)
	}
	if o := in.Cellplane; o != nil && o.FromBackup != nil {
		if err := validateFromBackup(in.Name, o.FromBackup); err != nil {
			return "", err
		}
	}
	if _, err := EncryptionKey(in.EncryptionConfig); err != nil {
		return "", err
	}
	return minor, ValidateToken(in.ClientRequestToken)
}

// setUIDPattern is what a backup set UID may hold: the cluster UIDs Kubernetes
// issues, and nothing that could step outside the set's prefix in the store.
var setUIDPattern = regexp.MustCompile(`^[0-9a-zA-Z-]{1,64}$`)

func validateFromBackup(name string, fb *eks.FromBackup) error {
	switch {
	case fb.Cluster == "":
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "cellplane.fromBackup.cluster is missing: name the cluster whose backups to restore.")
	case !v1alpha1.ValidName(fb.Cluster):
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "cellplane.fromBackup.cluster %q is not a valid cluster name. %s", fb.Cluster, nameRule)
	case v1alpha1.ObjectName(fb.Cluster) == v1alpha1.ObjectName(name):
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "cellplane.fromBackup.cluster cannot be the cluster being created (%s).", name)
	case fb.Set != "" && !setUIDPattern.MatchString(fb.Set):
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "cellplane.fromBackup.set %q is not a backup set UID (as `cellplane backup list` shows).", fb.Set)
	case fb.Revision < 0:
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "cellplane.fromBackup.revision must be 0 (the newest covered) or a positive etcd revision; got %d.", fb.Revision)
	}
	return nil
}

func validateName(name string) error {
	switch {
	case name == "":
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "The cluster name is missing. %s", nameRule)
	case !v1alpha1.ValidName(name):
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "The cluster name %q is not valid. %s", name, nameRule)
	}
	return nil
}

// ValidateTags checks keys in sorted order, so the same request always gets the
// same error.
func ValidateTags(tags map[string]string) error {
	if len(tags) > maxTags {
		// A quota, as the "50 tags per resource" and AWS's tagging
		// limits have it: ResourceLimitExceededException, not a bad parameter.
		return errdefs.Publicf(errdefs.ErrLimitExceeded, "A cluster can have at most %d tags; this would give it %d.", maxTags, len(tags))
	}
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := validateTag(k, tags[k]); err != nil {
			return err
		}
	}
	return nil
}

func validateTag(key, value string) error {
	switch n := utf8.RuneCountInString(key); {
	case n == 0 || n > maxTagKeyLength:
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "The tag key %q must be 1-%d characters.", key, maxTagKeyLength)
	case strings.HasPrefix(strings.ToLower(key), "aws:"):
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "The tag key %q is not allowed: the aws: prefix is reserved.", key)
	case !tagPattern.MatchString(key):
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "The tag key %q may contain only letters, digits, spaces and _ . : / = + - @.", key)
	case utf8.RuneCountInString(value) > maxTagValueLength:
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "The value of tag %q must be at most %d characters.", key, maxTagValueLength)
	case !tagPattern.MatchString(value):
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "The value of tag %q may contain only letters, digits, spaces and _ . : / = + - @.", key)
	}
	return nil
}

// ValidateToken checks an idempotency token (clientRequestToken); "" is none.
func ValidateToken(token string) error {
	if len(token) > maxTokenLength || strings.ContainsFunc(token, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "The clientRequestToken must be at most %d printable ASCII characters.", maxTokenLength)
	}
	return nil
}

// Echoed holds the EKS request fields that mean nothing to cellplane. They are
// stored as an annotation only so that DescribeCluster can echo them and a retry
// with the same token can be recognised as the same request.
type Echoed struct {
	RoleArn                 string          `json:"roleArn,omitempty"`
	ResourcesVpcConfig      json.RawMessage `json:"resourcesVpcConfig,omitempty"`
	KubernetesNetworkConfig json.RawMessage `json:"kubernetesNetworkConfig,omitempty"`
	Logging                 json.RawMessage `json:"logging,omitempty"`
}

// EchoOf checks the echoed fields of a request and encodes them compactly, so
// requests that differ only in whitespace compare equal. It returns "" when the
// request has none.
func EchoOf(in *eks.CreateClusterInput) (string, error) {
	e := Echoed{RoleArn: in.RoleArn}
	var err error
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *json.RawMessage
	}{
		{"resourcesVpcConfig", in.ResourcesVpcConfig, &e.ResourcesVpcConfig},
		{"kubernetesNetworkConfig", in.KubernetesNetworkConfig, &e.KubernetesNetworkConfig},
		{"logging", in.Logging, &e.Logging},
	} {
		if *f.dst, err = CompactObject(f.name, f.raw); err != nil {
			return "", err
		}
	}
	return EncodeEcho(e)
}

// EncodeEcho encodes e for the annotation, "" when it holds nothing, and
// refuses it when larger than MaxEchoBytes.
func EncodeEcho(e Echoed) (string, error) {
	if e.RoleArn == "" && e.ResourcesVpcConfig == nil && e.KubernetesNetworkConfig == nil && e.Logging == nil {
		return "", nil
	}
	b, err := json.Marshal(e)
	if err != nil {
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "The roleArn, resourcesVpcConfig, kubernetesNetworkConfig or logging field cannot be encoded.")
	}
	if len(b) > MaxEchoBytes {
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "The roleArn, resourcesVpcConfig, kubernetesNetworkConfig and logging fields together exceed %d bytes.", MaxEchoBytes)
	}
	return string(b), nil
}

// CompactObject returns raw compacted, nil for an absent or null field, and an
// error when the field is not a JSON object.
func CompactObject(name string, raw json.RawMessage) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, errdefs.Publicf(errdefs.ErrInvalidRequest, "The field %s must be a JSON object.", name)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, errdefs.Publicf(errdefs.ErrInvalidRequest, "The field %s is not valid JSON.", name)
	}
	return buf.Bytes(), nil
}

// EncryptionKey validates an encryptionConfig as EKS takes it: one entry,
// resources exactly ["secrets"], a provider with a key ARN. It returns the
// ARN, "" when cfgs is empty.
func EncryptionKey(cfgs []eks.EncryptionConfig) (string, error) {
	if len(cfgs) == 0 {
		return "", nil
	}
	if len(cfgs) > 1 {
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "encryptionConfig takes one entry; got %d.", len(cfgs))
	}
	c := cfgs[0]
	if len(c.Resources) != 1 || c.Resources[0] != eks.ResourceSecrets {
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "encryptionConfig.resources must be [\"secrets\"]; got %q.", c.Resources)
	}
	if c.Provider == nil || strings.TrimSpace(c.Provider.KeyArn) == "" {
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "encryptionConfig.provider.keyArn is required: the ARN of a key of the key service in this region.")
	}
	return c.Provider.KeyArn, nil
}

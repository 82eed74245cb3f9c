package secrets

import (
	"bytes"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/cellplane/cellplane/internal/controlplane"
)

// sealedPrefix starts every value kube-apiserver stores sealed by the
// cluster's KMS v2 provider.
const sealedPrefix = "k8s:enc:kms:v2:" + controlplane.KMSProviderName + ":"

// SealedKeyID returns the ID of the key a stored value is sealed under:
// kube-apiserver stores an EncryptedObject after the prefix, the key ID in its
// field 2. ok is false for a value stored in the clear.
func SealedKeyID(value []byte) (id string, ok bool) {
	b, ok := bytes.CutPrefix(value, []byte(sealedPrefix))
	if !ok {
		return "", false
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", true
		}
		b = b[n:]
		if num == 2 && typ == protowire.BytesType {
			v, _ := protowire.ConsumeBytes(b)
			return string(v), true
		}
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return "", true
		}
		b = b[n:]
	}
	return "", true
}

package plugin

import (
	"encoding/base64"
	"fmt"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/kms/keyset"
)

// KeysetEnv is the environment variable the cell hands a plugin its keys in.
// The environment of a process is readable only by its own user and root, and
// it never reaches the disk: the keys' only stored form stays the wrapped one.
const KeysetEnv = "CELLPLANE_KMS_KEYSET"

// DisabledEnv, set instead of KeysetEnv, starts the plugin without keys: the
// cluster's customer key is disabled, and the value says so. It answers
// every call with that reason, so kube-apiserver reports it and stops
// writing Secrets once its data key's write lifetime ends.
const DisabledEnv = "CELLPLANE_KMS_DISABLED"

// EncodeKeyset is the value of KeysetEnv for s.
func EncodeKeyset(s keyset.Set) (string, error) {
	data, err := s.Marshal()
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(data), nil
}

// DecodeKeyset reads what EncodeKeyset encoded.
func DecodeKeyset(v string) (keyset.Set, error) {
	if v == "" {
		return keyset.Set{}, fmt.Errorf("%w: %s is not set: the cell hands the plugin its keys there", errdefs.ErrInvalidConfig, KeysetEnv)
	}
	data, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		return keyset.Set{}, fmt.Errorf("%w: %s: %w", errdefs.ErrInvalidConfig, KeysetEnv, err)
	}
	return keyset.Unmarshal(data)
}

package plugin

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"

	kmsservice "k8s.io/kms/pkg/service"

	"github.com/cellplane/cellplane/internal/kms/keyset"
)

var (
	// ErrUnknownKey: a data key was sealed under a key this plugin does not
	// hold (another cluster's, or one never imported).
	ErrUnknownKey = errors.New("sealed under an unknown key")
	// ErrCorrupt: a sealed data key fails authentication.
	ErrCorrupt = errors.New("sealed data key fails authentication")
)

// apiVersion is what Status reports: the KMS API this plugin speaks.
const apiVersion = "v2"

// Service seals and opens kube-apiserver's data keys with a cluster's keyset.
type Service struct {
	primary string
	aeads   map[string]cipher.AEAD
}

var _ kmsservice.Service = (*Service)(nil)

// NewService prepares a cipher per key of s.
func NewService(s keyset.Set) (*Service, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	svc := &Service{primary: s.Primary, aeads: map[string]cipher.AEAD{}}
	for _, k := range s.Keys {
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k.ID, err)
		}
		svc.aeads[k.ID] = aead
	}
	return svc, nil
}

// Encrypt seals data (a data key or its seed) under the primary key: a fresh
// nonce, then the sealed bytes. The key ID is the additional data, so a
// ciphertext relabelled with another key's ID does not open.
func (s *Service) Encrypt(_ context.Context, _ string, data []byte) (*kmsservice.EncryptResponse, error) {
	aead := s.aeads[s.primary]
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce) // never fails: crypto/rand crashes the program rather than return weak bytes
	out := aead.Seal(nonce, nonce, data, []byte(s.primary))
	return &kmsservice.EncryptResponse{Ciphertext: out, KeyID: s.primary}, nil
}

// Decrypt opens what Encrypt sealed under the key the request names.
func (s *Service) Decrypt(_ context.Context, _ string, req *kmsservice.DecryptRequest) ([]byte, error) {
	aead, ok := s.aeads[req.KeyID]
	if !ok {
		return nil, fmt.Errorf("decrypting: %w: %q", ErrUnknownKey, req.KeyID)
	}
	ns := aead.NonceSize()
	if len(req.Ciphertext) < ns+aead.Overhead() {
		return nil, fmt.Errorf("decrypting: %w: %d bytes is too short", ErrCorrupt, len(req.Ciphertext))
	}
	plain, err := aead.Open(nil, req.Ciphertext[:ns], req.Ciphertext[ns:], []byte(req.KeyID))
	if err != nil {
		return nil, fmt.Errorf("decrypting: %w", ErrCorrupt)
	}
	return plain, nil
}

// Status answers kube-apiserver's health and key-ID poll: a changed key ID
// makes it seal new data keys under the new primary.
func (s *Service) Status(context.Context) (*kmsservice.StatusResponse, error) {
	return &kmsservice.StatusResponse{Version: apiVersion, Healthz: "ok", KeyID: s.primary}, nil
}

// ErrKeyDisabled: the cluster's customer key is disabled; the plugin holds
// no keys.
var ErrKeyDisabled = errors.New("the cluster's customer key is disabled")

// Disabled is the plugin's service while the cluster's customer key is
// disabled: it holds no keys, so it seals and opens nothing, and its Status
// is unhealthy with the reason. Status names no key ID on purpose:
// kube-apiserver extends its data key's write lifetime whenever Status
// repeats the key ID it sealed under, even unhealthy, so a disabled plugin
// that kept naming it would let writes go on for ever.
type Disabled string

var _ kmsservice.Service = Disabled("")

// Encrypt refuses: there is no key to seal under.
func (d Disabled) Encrypt(context.Context, string, []byte) (*kmsservice.EncryptResponse, error) {
	return nil, fmt.Errorf("encrypting: %w: %s", ErrKeyDisabled, string(d))
}

// Decrypt refuses: there is no key to open with.
func (d Disabled) Decrypt(context.Context, string, *kmsservice.DecryptRequest) ([]byte, error) {
	return nil, fmt.Errorf("decrypting: %w: %s", ErrKeyDisabled, string(d))
}

// Status reports the plugin unhealthy, with the reason.
func (d Disabled) Status(context.Context) (*kmsservice.StatusResponse, error) {
	return &kmsservice.StatusResponse{Version: apiVersion, Healthz: "key disabled: " + string(d)}, nil
}

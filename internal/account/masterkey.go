package account

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/cellplane/cellplane/internal/secretfile"
)

// MasterKeySize is the size of the AES-256 key that encrypts access key secrets.
const MasterKeySize = 32

// ErrDecrypt: a stored secret cannot be decrypted, because the master key is not
// the one it was encrypted with or the stored object was altered.
var ErrDecrypt = errors.New("cannot decrypt access key secret (wrong master key or corrupted data)")

// LoadOrCreateMasterKey reads the master key at path, creating it (mode 0600,
// directory 0700) with a random key if it does not exist. The file is
// secretfile's format: hex digits under a checksummed header, so a truncated or
// damaged key is refused with an error naming the file rather than sealing new
// secrets under a wrong key. A file written before the header existed is
// checked and rewritten with one. A file readable by group or others is
// refused: it would expose every secret.
func LoadOrCreateMasterKey(path string) ([]byte, error) {
	key, err := readMasterKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createMasterKey(path)
	}
	return key, err
}

func readMasterKey(path string) ([]byte, error) {
	payload, err := secretfile.Read(path, func(content []byte) ([]byte, error) {
		_, err := parseMasterKey(content)
		return content, err
	})
	if err != nil {
		return nil, fmt.Errorf("reading master key: %w", err)
	}
	key, err := parseMasterKey(payload)
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	return key, nil
}

func parseMasterKey(content []byte) ([]byte, error) {
	key, err := hex.DecodeString(strings.TrimSpace(string(content)))
	if err != nil || len(key) != MasterKeySize {
		return nil, fmt.Errorf("must hold %d hex-encoded bytes", MasterKeySize)
	}
	return key, nil
}

// createMasterKey writes a new key only if none exists, so two processes
// racing to create it end up sharing the winner's key.
func createMasterKey(path string) ([]byte, error) {
	key := make([]byte, MasterKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("generating master key: %w", err)
	}
	err := secretfile.Create(path, []byte(hex.EncodeToString(key)+"\n"))
	if errors.Is(err, fs.ErrExist) {
		return readMasterKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("creating master key: %w", err)
	}
	return key, nil
}

// seal encrypts secret with AES-256-GCM; the access key ID is the additional
// data, so a ciphertext copied onto another key's object does not decrypt.
func seal(key []byte, akid, secret string) (ciphertext, nonce []byte, err error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, nil, err
	}
	nonce = make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, nil, fmt.Errorf("generating nonce: %w", err)
	}
	return aead.Seal(nil, nonce, []byte(secret), []byte(akid)), nonce, nil
}

func unseal(key []byte, akid string, ciphertext, nonce []byte) (string, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return "", err
	}
	if len(nonce) != aead.NonceSize() {
		return "", fmt.Errorf("access key %s: %w", akid, ErrDecrypt)
	}
	plain, err := aead.Open(nil, nonce, ciphertext, []byte(akid))
	if err != nil {
		return "", fmt.Errorf("access key %s: %w", akid, ErrDecrypt)
	}
	return string(plain), nil
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != MasterKeySize {
		return nil, fmt.Errorf("master key has %d bytes; want %d", len(key), MasterKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("creating cipher: %w", err)
	}
	return cipher.NewGCM(block)
}

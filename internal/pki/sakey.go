package pki

import (
	"crypto"
	"fmt"
	"os"
)

// ensureSAKey keeps the service-account signing key once made: replacing it
// would invalidate every token already handed to workloads. Only a missing or
// corrupt key is regenerated; a missing or wrong public half is rederived.
func ensureSAKey(keyFile, pubFile string) error {
	key, err := readKey(keyFile)
	if err != nil && !replaceable(err) {
		return fmt.Errorf("reading service-account key: %w", err)
	}
	if err != nil {
		if key, err = writeNewKey(keyFile); err != nil {
			return fmt.Errorf("creating service-account key: %w", err)
		}
	}
	if err := ensurePublicKey(pubFile, key); err != nil {
		return fmt.Errorf("writing service-account public key: %w", err)
	}
	return nil
}

func readKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseKey(data)
}

func writeNewKey(path string) (crypto.Signer, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	pem, err := encodeKey(key)
	if err != nil {
		return nil, err
	}
	return key, WriteFileAtomic(path, pem, keyPerm)
}

func ensurePublicKey(path string, key crypto.Signer) error {
	if data, err := os.ReadFile(path); err == nil {
		if pub, err := parsePublicKey(data); err == nil && keyMatches(key, pub) {
			return nil
		}
	}
	pem, err := encodePublicKey(key.Public())
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, pem, certPerm)
}

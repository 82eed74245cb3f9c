package store

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsurePKIKeepsTheEncryptionKey(t *testing.T) {
	dir := t.TempDir()
	ip := net.IPv4(127, 101, 0, 1).To4()
	f, err := ensurePKI(dir, ip)
	if err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(f.encryption)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(f.encryption)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("%s mode %v, want 0600", f.encryption, info.Mode().Perm())
	}
	if !strings.Contains(string(first), "secretbox:") {
		t.Errorf("the configuration does not seal Secrets with secretbox:\n%s", first)
	}
	if _, err := ensurePKI(dir, ip); err != nil {
		t.Fatal(err)
	}
	again, err := os.ReadFile(f.encryption)
	if err != nil {
		t.Fatal(err)
	}
	if string(again) != string(first) {
		t.Error("a second ensurePKI replaced the encryption key: every Secret sealed with it would be lost")
	}
}

func TestEnsureEncryptionConfigRefusesABadFile(t *testing.T) {
	good := func(t *testing.T) string {
		path := filepath.Join(t.TempDir(), encryptionFile)
		if err := ensureEncryptionConfig(path); err != nil {
			t.Fatal(err)
		}
		return path
	}
	for name, spoil := range map[string]func(path string) error{
		"truncated": func(path string) error {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(path, data[:len(data)-20], 0o600)
		},
		"empty": func(path string) error { return os.WriteFile(path, nil, 0o600) },
		"edited": func(path string) error {
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(path, []byte(strings.Replace(string(data), "identity", "aescbc", 1)), 0o600)
		},
		"readable by others": func(path string) error { return os.Chmod(path, 0o644) },
	} {
		t.Run(name, func(t *testing.T) {
			path := good(t)
			if err := spoil(path); err != nil {
				t.Fatal(err)
			}
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			err = ensureEncryptionConfig(path)
			if !errors.Is(err, ErrBadKeyFile) {
				t.Fatalf("ensureEncryptionConfig = %v, want ErrBadKeyFile", err)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("the error does not name the file: %v", err)
			}
			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(after) != string(before) {
				t.Error("the unusable file was overwritten")
			}
		})
	}
}

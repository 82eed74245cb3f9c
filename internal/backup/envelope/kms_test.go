package envelope

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/secretfile"
)

func TestLocalKMSCreatesPrivateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "kek")
	k, err := NewLocalKMS(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	if data, _ := os.ReadFile(path); !hasKEK(data) {
		t.Fatalf("key file holds %q, want a checksummed %d-byte key", data, DataKeySize)
	}
	if di, err := os.Stat(filepath.Dir(path)); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("key directory: %v, %v; want mode 0700", di.Mode().Perm(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("key directory holds %d entries, want only the key", len(entries))
	}
	if !strings.HasPrefix(k.KeyID(), "local:") {
		t.Fatalf("KeyID = %q", k.KeyID())
	}
	again, err := NewLocalKMS(path)
	if err != nil {
		t.Fatal(err)
	}
	if again.KeyID() != k.KeyID() {
		t.Fatalf("reopened KMS has key ID %s, want %s", again.KeyID(), k.KeyID())
	}
}

func TestLocalKMSConcurrentCreateAgrees(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek")
	ids := make([]string, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			k, err := NewLocalKMS(path)
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = k.KeyID()
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent creators got key IDs %q", ids)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("key directory holds %d entries after concurrent creates, want 1", len(entries))
	}
}

func TestLocalKMSRefusesExposedKeyFile(t *testing.T) {
	for _, mode := range []os.FileMode{0o644, 0o640, 0o604, 0o660, 0o602, 0o610} {
		path := filepath.Join(t.TempDir(), "kek")
		if err := os.WriteFile(path, NewDataKey(), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
		_, err := NewLocalKMS(path)
		if !errors.Is(err, errdefs.ErrInvalidParameter) || !strings.Contains(err.Error(), "group or others") {
			t.Errorf("mode %04o: NewLocalKMS = %v, want a refusal naming group or others", mode, err)
		}
		if fi, _ := os.Stat(path); fi.Mode().Perm() != mode {
			t.Errorf("mode %04o: refusal changed the file's mode to %04o", mode, fi.Mode().Perm())
		}
	}
	path := filepath.Join(t.TempDir(), "kek")
	if err := os.WriteFile(path, NewDataKey(), 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := NewLocalKMS(path); err != nil {
		t.Fatalf("read-only owner file: %v", err)
	}
}

func TestLocalKMSRefusesMalformedKeyFile(t *testing.T) {
	for name, content := range map[string][]byte{"empty": nil, "short": make([]byte, 31), "long": make([]byte, 33)} {
		path := filepath.Join(t.TempDir(), "kek")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := NewLocalKMS(path); !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("%s key file: NewLocalKMS = %v, want ErrInvalidParameter", name, err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, content) {
			t.Errorf("%s key file was rewritten", name)
		}
	}
	dir := t.TempDir()
	if _, err := NewLocalKMS(dir); err == nil {
		t.Error("NewLocalKMS accepted a directory")
	}
}

func hasKEK(data []byte) bool {
	kek, ok, err := secretfile.Decode(data)
	return ok && err == nil && len(kek) == DataKeySize
}

// A key file as the code before checksums wrote it (32 bare bytes) keeps
// working, under the same key ID, and gains a checksum.
func TestLocalKMSMigratesBareKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kek")
	kek := NewDataKey()
	if err := os.WriteFile(path, kek, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := NewLocalKMS(path)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if got, _, _ := secretfile.Decode(data); !bytes.Equal(got, kek) {
		t.Fatalf("migrated key file holds %q, want the same key under a checksum", data)
	}
	again, err := NewLocalKMS(path)
	if err != nil || again.KeyID() != k.KeyID() {
		t.Fatalf("reopened migrated key: %v, id %v want %s", err, again, k.KeyID())
	}
}

// A checksummed key file that lost its tail or had a byte changed is refused
// with an error naming the file, and left as it is for the operator.
func TestLocalKMSRefusesDamagedKeyFile(t *testing.T) {
	good := secretfile.Encode(NewDataKey())
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 1
	for name, content := range map[string][]byte{
		"truncated key":    good[:len(good)-5],
		"truncated header": good[:20],
		"flipped bit":      flipped,
	} {
		path := filepath.Join(t.TempDir(), "kek")
		if err := os.WriteFile(path, content, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := NewLocalKMS(path)
		if !errors.Is(err, secretfile.ErrCorrupt) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: NewLocalKMS = %v, want ErrCorrupt naming %s", name, err, path)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, content) {
			t.Errorf("%s: damaged key file was rewritten", name)
		}
	}
}

func newKMS(t *testing.T) *LocalKMS {
	t.Helper()
	k, err := NewLocalKMS(filepath.Join(t.TempDir(), "kek"))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestLocalKMSWrapUnwrap(t *testing.T) {
	ctx, k := context.Background(), newKMS(t)
	dk := NewDataKey()
	w1, err := k.Wrap(ctx, dk)
	if err != nil {
		t.Fatal(err)
	}
	w2, err := k.Wrap(ctx, dk)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(w1, w2) || bytes.Contains(w1, dk) {
		t.Fatal("wrapping is deterministic or leaks the key")
	}
	for _, w := range [][]byte{w1, w2} {
		got, err := k.Unwrap(ctx, w)
		if err != nil || !bytes.Equal(got, dk) {
			t.Fatalf("Unwrap = %x, %v; want the data key", got, err)
		}
	}
	if _, err := k.Wrap(ctx, []byte("short")); !errors.Is(err, errdefs.ErrInvalidParameter) {
		t.Fatalf("Wrap of a short key = %v, want ErrInvalidParameter", err)
	}
}

func TestLocalKMSUnwrapDetectsWrongKeyAndTampering(t *testing.T) {
	ctx, k := context.Background(), newKMS(t)
	wrapped, err := k.Wrap(ctx, NewDataKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newKMS(t).Unwrap(ctx, wrapped); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("Unwrap by another KMS = %v, want ErrWrongKey", err)
	}
	for i := range wrapped {
		bad := bytes.Clone(wrapped)
		bad[i] ^= 0x80
		_, err := k.Unwrap(ctx, bad)
		if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrWrongKey) {
			t.Fatalf("flipping byte %d: Unwrap = %v, want ErrCorrupt or ErrWrongKey", i, err)
		}
	}
	for n := range len(wrapped) {
		if _, err := k.Unwrap(ctx, wrapped[:n]); err == nil {
			t.Fatalf("Unwrap of %d of %d bytes succeeded", n, len(wrapped))
		}
	}
	if _, err := k.Unwrap(ctx, append(bytes.Clone(wrapped), 0)); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Unwrap with a byte appended = %v, want ErrCorrupt", err)
	}
}

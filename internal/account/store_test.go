package account

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/secretfile"
	"github.com/cellplane/cellplane/internal/sigv4"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, MasterKeySize) }

// newStore returns a Store on the real management store. Accounts live in the
// fixed Namespace, which every test shares, so each test starts with it empty
// and empties it again when it ends (the tests do not run in parallel).
func newStore(t *testing.T) (*Store, client.Client) {
	t.Helper()
	c := env.Client(t)
	clearSecrets(t, c)
	t.Cleanup(func() { clearSecrets(t, c) })
	return &Store{Client: c, Key: testKey(1)}, c
}

// clearSecrets deletes every Secret of the account namespace; the namespace
// itself stays, as a store without a namespace controller cannot delete it.
func clearSecrets(t *testing.T, c client.Client) {
	t.Helper()
	err := c.DeleteAllOf(context.Background(), &corev1.Secret{}, client.InNamespace(Namespace))
	if err != nil {
		t.Fatalf("clearing secrets: %v", err)
	}
}

func secrets(t *testing.T, c client.Client) []corev1.Secret {
	t.Helper()
	var list corev1.SecretList
	if err := c.List(context.Background(), &list); err != nil {
		t.Fatalf("listing secrets: %v", err)
	}
	return list.Items
}

func TestCreateListDelete(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	a, k, err := s.CreateAccount(ctx, "team-a")
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	if !idPattern.MatchString(a.ID) || a.Name != "team-a" || a.CreatedAt.IsZero() {
		t.Errorf("account = %+v", a)
	}
	if !akidPattern.MatchString(k.AccessKeyID) || len(k.SecretAccessKey) != 40 || k.Account != a.ID {
		t.Errorf("access key = %s, secret of %d chars, account %s", k.AccessKeyID, len(k.SecretAccessKey), k.Account)
	}
	b, _, err := s.CreateAccount(ctx, "team.b_2")
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	if _, err := s.CreateAccessKey(ctx, a.ID); err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	accounts, err := s.ListAccounts(ctx)
	if err != nil || len(accounts) != 2 {
		t.Fatalf("ListAccounts = %v, %v; want 2 accounts", accounts, err)
	}
	if err := s.DeleteAccount(ctx, a.ID); err != nil {
		t.Fatalf("DeleteAccount: %v", err)
	}
	accounts, _ = s.ListAccounts(ctx)
	if len(accounts) != 1 || accounts[0].ID != b.ID || !accounts[0].CreatedAt.Equal(b.CreatedAt) {
		t.Errorf("after delete ListAccounts = %+v; want only %+v", accounts, b)
	}
	// b's account and single key remain; a's two keys are gone.
	if n := len(secrets(t, c)); n != 2 {
		t.Errorf("%d secrets left; want 2", n)
	}
	if _, err := s.Lookup(ctx, k.AccessKeyID); !errors.Is(err, sigv4.ErrUnknownKey) {
		t.Errorf("Lookup of deleted key: %v; want ErrUnknownKey", err)
	}
}

func TestNotFound(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	if err := s.DeleteAccount(ctx, "123456789012"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("DeleteAccount(unknown) = %v; want ErrNotFound", err)
	}
	if _, err := s.CreateAccessKey(ctx, "123456789012"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("CreateAccessKey(unknown) = %v; want ErrNotFound", err)
	}
	for _, akid := range []string{"CPAKAAAAAAAAAAAAAAAA", "not-a-key", ""} {
		if _, err := s.Lookup(ctx, akid); !errors.Is(err, sigv4.ErrUnknownKey) {
			t.Errorf("Lookup(%q) = %v; want ErrUnknownKey", akid, err)
		}
	}
}

func TestLookupRoundTrip(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	a, k, err := s.CreateAccount(ctx, "a")
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	got, err := s.Lookup(ctx, k.AccessKeyID)
	want := sigv4.Credentials{AccessKeyID: k.AccessKeyID, SecretAccessKey: k.SecretAccessKey, Account: a.ID, Principal: AdminUserARN(a.ID)}
	if err != nil || got != want {
		t.Fatalf("Lookup = %+v, %v; want %+v", got, err, want)
	}
}

func TestStoredSecretsHoldNoPlaintext(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	_, k, err := s.CreateAccount(ctx, "a")
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	k2, err := s.CreateAccessKey(ctx, k.Account)
	if err != nil {
		t.Fatalf("CreateAccessKey: %v", err)
	}
	for _, secret := range secrets(t, c) {
		dump := secret.String() // every field, data included
		for _, plain := range []string{k.SecretAccessKey, k2.SecretAccessKey} {
			if strings.Contains(dump, plain) || strings.Contains(dump, string([]byte(plain)[:20])) {
				t.Errorf("secret %s contains a plaintext secret access key", secret.Name)
			}
			for field, value := range secret.Data {
				if bytes.Contains(value, []byte(plain)) {
					t.Errorf("secret %s field %s contains a plaintext secret", secret.Name, field)
				}
			}
		}
	}
}

func TestWrongMasterKey(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	_, k, err := s.CreateAccount(ctx, "a")
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	other := &Store{Client: c, Key: testKey(2)}
	_, err = other.Lookup(ctx, k.AccessKeyID)
	if !errors.Is(err, ErrDecrypt) {
		t.Fatalf("Lookup with another master key = %v; want ErrDecrypt", err)
	}
	if strings.Contains(err.Error(), k.SecretAccessKey) {
		t.Errorf("error leaks the secret")
	}
}

// Copying one key's ciphertext onto another key's object must not decrypt: the
// access key ID is bound as additional data.
func TestCiphertextBoundToKeyID(t *testing.T) {
	ct, nonce, err := seal(testKey(1), "CPAKAAAAAAAAAAAAAAAA", "secret")
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	if _, err := unseal(testKey(1), "CPAKBBBBBBBBBBBBBBBB", ct, nonce); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("unseal under another ID = %v; want ErrDecrypt", err)
	}
}

func TestBadInputMakesNoObjects(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t)
	nsBefore := namespaces(t, c)
	for _, name := range []string{"", strings.Repeat("x", 65), "has space", "slash/", "ünï"} {
		if _, _, err := s.CreateAccount(ctx, name); !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("CreateAccount(%q) = %v; want ErrInvalidParameter", name, err)
		}
	}
	for _, id := range []string{"", "12345", "12345678901a", "1234567890123"} {
		if _, _, err := s.EnsureAccount(ctx, id, "ok"); !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("EnsureAccount(%q) = %v; want ErrInvalidParameter", id, err)
		}
		if err := s.DeleteAccount(ctx, id); !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("DeleteAccount(%q) = %v; want ErrInvalidParameter", id, err)
		}
	}
	short := &Store{Client: c, Key: []byte("short")}
	if _, _, err := short.CreateAccount(ctx, "ok"); err == nil {
		t.Errorf("CreateAccount with a short master key succeeded")
	}
	// A real store has namespaces of its own (default, kube-system, ...) and
	// keeps the account namespace of earlier tests: count what this test added.
	if n := len(secrets(t, c)) + len(namespaces(t, c)) - len(nsBefore); n != 0 {
		t.Errorf("bad input left %d objects", n)
	}
}

func namespaces(t *testing.T, c client.Client) []corev1.Namespace {
	t.Helper()
	var all corev1.NamespaceList
	if err := c.List(context.Background(), &all); err != nil {
		t.Fatalf("listing namespaces: %v", err)
	}
	return all.Items
}

func TestEnsureAccount(t *testing.T) {
	ctx := context.Background()
	s, _ := newStore(t)
	const id = "000000000000"
	a, k, err := s.EnsureAccount(ctx, id, "default")
	if err != nil || k == nil || a.ID != id || k.Account != id {
		t.Fatalf("first EnsureAccount = %+v, %v, %v; want a new key", a, k, err)
	}
	again, k2, err := s.EnsureAccount(ctx, id, "default")
	if err != nil || k2 != nil || again.ID != id || !again.CreatedAt.Equal(a.CreatedAt) {
		t.Fatalf("second EnsureAccount = %+v, %v, %v; want the same account and no key", again, k2, err)
	}
	if creds, err := s.Lookup(ctx, k.AccessKeyID); err != nil || creds.Account != id {
		t.Fatalf("Lookup = %+v, %v", creds, err)
	}
}

func TestMasterKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "master.key")
	key, err := LoadOrCreateMasterKey(path)
	if err != nil || len(key) != MasterKeySize {
		t.Fatalf("LoadOrCreateMasterKey = %d bytes, %v", len(key), err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("master key file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
	again, err := LoadOrCreateMasterKey(path)
	if err != nil || !bytes.Equal(again, key) {
		t.Fatalf("second load = %v; want the same key", err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateMasterKey(path); err == nil {
		t.Errorf("loading a world-readable master key succeeded")
	}
	if err := os.WriteFile(path, []byte("zz"), 0o600); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(path, 0o600)
	if _, err := LoadOrCreateMasterKey(path); err == nil {
		t.Errorf("loading a corrupt master key succeeded")
	}
}

// A master key file as written before checksums (hex and a newline) is read,
// gains a checksum, and a later truncation of it is refused naming the file.
func TestMasterKeyFileMigratesAndDetectsTruncation(t *testing.T) {
	path := filepath.Join(t.TempDir(), "master.key")
	legacy := strings.Repeat("ab", MasterKeySize) + "\n"
	if err := os.WriteFile(path, []byte(legacy), 0o600); err != nil {
		t.Fatal(err)
	}
	key, err := LoadOrCreateMasterKey(path)
	if err != nil || hex.EncodeToString(key) != strings.TrimSpace(legacy) {
		t.Fatalf("legacy master key = %x, %v", key, err)
	}
	data, _ := os.ReadFile(path)
	if payload, ok, err := secretfile.Decode(data); !ok || err != nil || string(payload) != legacy {
		t.Fatalf("migrated file = %q (%v); want the legacy content under a checksum", data, err)
	}
	if err := os.WriteFile(path, data[:len(data)-10], 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateMasterKey(path); !errors.Is(err, secretfile.ErrCorrupt) || !strings.Contains(err.Error(), path) {
		t.Fatalf("truncated master key: %v; want ErrCorrupt naming the file", err)
	}
}

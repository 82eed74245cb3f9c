package keyset

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/backup/envelope"
)

func TestNewAndValidate(t *testing.T) {
	s := New()
	if err := s.Validate(); err != nil {
		t.Fatalf("a new keyset is invalid: %v", err)
	}
	if New().Primary == s.Primary {
		t.Error("two new keysets share their key")
	}
	k := s.PrimaryKey()
	bad := map[string]Set{
		"empty":           {},
		"primary missing": {Primary: "cellplane:0000000000000000", Keys: s.Keys},
		"short key":       {Primary: k.ID, Keys: []Key{{ID: k.ID, Secret: k.Secret[:16]}}},
		"ID not its hash": {Primary: "mine", Keys: []Key{{ID: "mine", Secret: k.Secret}}},
		"key given twice": {Primary: k.ID, Keys: []Key{k, k}},
	}
	for name, b := range bad {
		if err := b.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Validate() = %v, want ErrInvalid", name, err)
		}
		if _, err := b.Marshal(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Marshal() = %v, want ErrInvalid", name, err)
		}
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	s := New().Merge(New())
	data, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if got.Primary != s.Primary || len(got.Keys) != 2 || !got.Contains(s) {
		t.Errorf("Unmarshal(Marshal(s)) = %+v, want %+v", got, s)
	}
	if _, err := Unmarshal([]byte(`{"primary":"x"`)); !errors.Is(err, ErrInvalid) {
		t.Errorf("Unmarshal(truncated) = %v, want ErrInvalid", err)
	}
}

func TestMergeKeepsPrimaryAndAddsOnlyMissing(t *testing.T) {
	a, b := New(), New()
	m := a.Merge(b)
	if m.Primary != a.Primary || len(m.Keys) != 2 || !m.Contains(a) || !m.Contains(b) {
		t.Fatalf("a.Merge(b) = %+v", m)
	}
	if again := m.Merge(b); len(again.Keys) != 2 {
		t.Errorf("merging a key twice gives %d keys", len(again.Keys))
	}
	if len(a.Keys) != 1 {
		t.Errorf("Merge changed its receiver: %d keys", len(a.Keys))
	}
	if a.Contains(b) {
		t.Error("a contains b's key before merging")
	}
}

func TestSaveLoadWrapped(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kms, err := envelope.NewLocalKMS(filepath.Join(dir, "keys", "kek"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "cluster", "kms", "keyset.json")
	s := New().Merge(New())
	if err := Save(ctx, path, s, kms); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("keyset file mode %#o, want 0600", fi.Mode().Perm())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range s.Keys {
		if containsBytes(raw, k.Secret) || containsBytes(raw, []byte(encodeStd(k.Secret))) {
			t.Fatalf("the stored keyset holds key %s in the clear", k.ID)
		}
	}
	got, err := Load(ctx, path, kms)
	if err != nil {
		t.Fatal(err)
	}
	if got.Primary != s.Primary || !got.Contains(s) {
		t.Errorf("Load = %+v, want %+v", got, s)
	}

	other, err := envelope.NewLocalKMS(filepath.Join(dir, "keys", "other"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, path, other); !errors.Is(err, envelope.ErrWrongKey) {
		t.Errorf("Load with another service key = %v, want ErrWrongKey", err)
	}
	if _, err := Load(ctx, filepath.Join(dir, "none.json"), kms); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing keyset = %v, want ErrNotExist", err)
	}
}

// TestLabelledKeys: a labelled key is named by its label and its hash, and
// validates; a label pasted onto another key's hash does not.
func TestLabelledKeys(t *testing.T) {
	s := NewLabelled("5f1c8a2e-7b3d-4c9e-a1f0-2d3e4f5a6b7c/3")
	k := s.PrimaryKey()
	if k.Label() != "5f1c8a2e-7b3d-4c9e-a1f0-2d3e4f5a6b7c/3" || !strings.HasSuffix(k.ID, "/"+idOf(k.Secret)) {
		t.Fatalf("labelled key %s has label %q", k.ID, k.Label())
	}
	if err := s.Validate(); err != nil {
		t.Fatalf("Validate = %v", err)
	}
	if NewKey().Label() != "" {
		t.Fatal("an unlabelled key has a label")
	}
	other := NewKey()
	forged := Set{Primary: "x/" + other.ID + "z", Keys: []Key{{ID: "x/" + other.ID + "z", Secret: other.Secret}}}
	if err := forged.Validate(); err == nil {
		t.Fatal("a key not named by its hash validates")
	}
	empty := Set{Primary: "/" + other.ID, Keys: []Key{{ID: "/" + other.ID, Secret: other.Secret}}}
	if err := empty.Validate(); err == nil {
		t.Fatal("a key with an empty label validates")
	}
}

package secretfile

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, payload := range [][]byte{nil, []byte("k"), bytes.Repeat([]byte{0, '\n', 0xff}, 100)} {
		got, ok, err := Decode(Encode(payload))
		if !ok || err != nil || !bytes.Equal(got, payload) {
			t.Errorf("Decode(Encode(%q)) = %q, %v, %v", payload, got, ok, err)
		}
	}
}

func TestDecodeRefusesDamage(t *testing.T) {
	good := Encode([]byte("0123456789abcdef"))
	flipped := bytes.Clone(good)
	flipped[len(flipped)-1] ^= 0x20
	badHex := bytes.Clone(good)
	badHex[len(magic)] = 'z'
	extended := append(bytes.Clone(good), 'x')
	for name, data := range map[string][]byte{
		"payload truncated": good[:len(good)-1],
		"header truncated":  good[:len(magic)+3],
		"payload altered":   flipped,
		"checksum not hex":  badHex,
		"payload extended":  extended,
	} {
		if _, ok, err := Decode(data); !ok || !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Decode = ok %v, %v; want ErrCorrupt", name, ok, err)
		}
	}
	if _, ok, err := Decode([]byte("plain old content")); ok || err != nil {
		t.Errorf("headerless content: ok %v, %v; want a legacy file", ok, err)
	}
}

func TestWriteReadAndMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "secret")
	if err := Write(path, []byte("s3cret")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != Mode {
		t.Fatalf("written file: %v, %v; want mode %v", fi, err, Mode)
	}
	got, err := Read(path, refuseLegacy(t))
	if err != nil || string(got) != "s3cret" {
		t.Fatalf("Read = %q, %v", got, err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path, refuseLegacy(t)); !errors.Is(err, ErrExposed) || !strings.Contains(err.Error(), path) {
		t.Fatalf("group-readable file: %v; want ErrExposed naming the file", err)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "none"), refuseLegacy(t)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v; want ErrNotExist", err)
	}
}

func refuseLegacy(t *testing.T) Legacy {
	return func([]byte) ([]byte, error) {
		t.Error("a checksummed file was read as a legacy one")
		return nil, errors.New("unexpected")
	}
}

func TestReadMigratesValidLegacyAndRefusesInvalid(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "legacy")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	accept := func(c []byte) ([]byte, error) { return c, nil }
	if got, err := Read(path, accept); err != nil || string(got) != "old" {
		t.Fatalf("legacy Read = %q, %v", got, err)
	}
	data, _ := os.ReadFile(path)
	if !bytes.Equal(data, Encode([]byte("old"))) {
		t.Fatalf("legacy file not migrated: %q", data)
	}
	bad := filepath.Join(dir, "bad")
	if err := os.WriteFile(bad, []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Read(bad, func([]byte) ([]byte, error) { return nil, errors.New("not a key") })
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "not a key") {
		t.Fatalf("invalid legacy file: %v", err)
	}
	if data, _ := os.ReadFile(bad); string(data) != "junk" {
		t.Fatalf("invalid legacy file was rewritten: %q", data)
	}
}

// Of several creators racing, exactly one wins; the others see fs.ErrExist
// and the file holds the winner's payload, whole.
func TestCreateIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var won []string
	for i := range 8 {
		wg.Go(func() {
			p := strings.Repeat(string("abcdefgh"[i]), 32)
			err := Create(path, []byte(p))
			switch {
			case err == nil:
				mu.Lock()
				won = append(won, p)
				mu.Unlock()
			case !errors.Is(err, fs.ErrExist):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d creators won, want 1", len(won))
	}
	got, err := Read(path, refuseLegacy(t))
	if err != nil || string(got) != won[0] {
		t.Fatalf("file holds %q, %v; want the winner's %q", got, err, won[0])
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries, want only the file", len(entries))
	}
}

package datadir

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestLoadInstance(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		dir := t.TempDir()
		in, err := LoadInstance(dir, "", 0, nil)
		if err != nil || in.AddressBlock != DefaultAddressBlock {
			t.Fatalf("first load = %+v, %v; want the default block", in, err)
		}
		if in, err := LoadInstance(dir, DefaultAddressBlock, 0, nil); err != nil || in.AddressBlock != DefaultAddressBlock {
			t.Fatalf("load asking for the stored block = %+v, %v", in, err)
		}
	})
	t.Run("requested is remembered", func(t *testing.T) {
		dir := t.TempDir()
		if in, err := LoadInstance(dir, "127.120", 0, nil); err != nil || in.AddressBlock != "127.120" {
			t.Fatalf("first load = %+v, %v", in, err)
		}
		st, err := os.Stat(filepath.Join(dir, "instance.json"))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("instance.json: %v, mode %v", err, st.Mode().Perm())
		}
		// Empty means "whatever the directory was created with".
		if in, err := LoadInstance(dir, "", 0, nil); err != nil || in.AddressBlock != "127.120" {
			t.Fatalf("load without a request = %+v, %v; want the stored block", in, err)
		}
		// Every cluster's addresses derive from the block: it must never change.
		_, err = LoadInstance(dir, "127.130", 0, nil)
		if !errors.Is(err, errdefs.ErrInvalidConfig) || !strings.Contains(err.Error(), "127.120") {
			t.Fatalf("load with another block = %v, want ErrInvalidConfig naming 127.120", err)
		}
	})
	t.Run("cells grow and never shrink", func(t *testing.T) {
		dir := t.TempDir()
		if in, err := LoadInstance(dir, "", 0, nil); err != nil || in.Cells != 1 {
			t.Fatalf("first load = %+v, %v; want one cell", in, err)
		}
		if in, err := LoadInstance(dir, "", 3, nil); err != nil || in.Cells != 3 {
			t.Fatalf("growing to 3 = %+v, %v", in, err)
		}
		if in, err := LoadInstance(dir, "", 0, nil); err != nil || in.Cells != 3 {
			t.Fatalf("load without a request = %+v, %v; want the 3 remembered", in, err)
		}
		_, err := LoadInstance(dir, "", 2, nil)
		if !errors.Is(err, errdefs.ErrInvalidConfig) || !strings.Contains(err.Error(), "cell drain") {
			t.Fatalf("shrinking to 2 = %v, want ErrInvalidConfig pointing at cell drain", err)
		}
	})
	t.Run("zone namespaces are chosen at creation", func(t *testing.T) {
		dir := t.TempDir()
		on, off := true, false
		if in, err := LoadInstance(dir, "", 0, &on); err != nil || !in.ZoneNamespaces {
			t.Fatalf("create with namespaces = %+v, %v", in, err)
		}
		if in, err := LoadInstance(dir, "", 0, nil); err != nil || !in.ZoneNamespaces {
			t.Fatalf("reload = %+v, %v; want namespaces remembered", in, err)
		}
		if _, err := LoadInstance(dir, "", 0, &off); !errors.Is(err, errdefs.ErrInvalidConfig) || !strings.Contains(err.Error(), "created") {
			t.Fatalf("switching to loopback = %v, want ErrInvalidConfig", err)
		}
	})
	t.Run("written before cells were counted", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "instance.json"), []byte(`{"addressBlock":"127.120"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if in, err := LoadInstance(dir, "", 0, nil); err != nil || in.Cells != 1 || in.AddressBlock != "127.120" {
			t.Fatalf("load = %+v, %v; want 127.120 with one cell", in, err)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "instance.json"), []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadInstance(dir, "", 0, nil); err == nil || !strings.Contains(err.Error(), "instance.json") {
			t.Fatalf("load of a corrupt file = %v, want an error naming it", err)
		}
	})
}

func TestEndpointRoundTrip(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadEndpoint(dir); !errors.Is(err, os.ErrNotExist) {
		// The CLI tells "not running" apart from other failures this way.
		t.Fatalf("ReadEndpoint without a file = %v, want os.ErrNotExist", err)
	}
	want := Endpoint{URL: "https://127.100.0.1:8443", CAFile: filepath.Join(dir, "region", "api", "ca.crt"), PID: 4321}
	if err := WriteEndpoint(dir, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadEndpoint(dir)
	if err != nil || got != want {
		t.Fatalf("ReadEndpoint = %+v, %v; want %+v", got, err, want)
	}
	if st, _ := os.Stat(EndpointFile(dir)); st.Mode().Perm() != 0o600 {
		t.Errorf("endpoint.json mode %v, want 0600", st.Mode().Perm())
	}

	if err := os.WriteFile(EndpointFile(dir), []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadEndpoint(dir); err == nil || errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "endpoint.json") {
		t.Fatalf("ReadEndpoint of a corrupt file = %v", err)
	}
}

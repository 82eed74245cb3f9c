package service

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/ipam"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"minimal", Config{DataDir: "/data"}, true},
		{"full", Config{DataDir: "/data", AddressBlock: "127.120", CreateTimeout: time.Minute}, true},
		{"empty data dir", Config{}, false},
		{"bad block", Config{DataDir: "/data", AddressBlock: "10.1"}, false},
		{"block without room for its cell", Config{DataDir: "/data", AddressBlock: "127.254"}, false},
		{"block zero", Config{DataDir: "/data", AddressBlock: "127.0"}, false},
		{"negative timeout", Config{DataDir: "/data", CreateTimeout: -time.Second}, false},
		{"two cells", Config{DataDir: "/data", Cells: 2}, true},
		{"too many cells", Config{DataDir: "/data", Cells: MaxCells + 1}, false},
		{"negative cells", Config{DataDir: "/data", Cells: -1}, false},
		{"block without room for its cells", Config{DataDir: "/data", AddressBlock: "127.252", Cells: 3}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate = %v, not ErrInvalidConfig", err)
			}
		})
	}
	err := (&Config{DataDir: "/data", AddressBlock: "10.1"}).Validate()
	if !errors.Is(err, ipam.ErrInvalidBlock) {
		t.Errorf("bad block error %v does not wrap ipam.ErrInvalidBlock", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{DataDir: "/data/./x/"}.withDefaults()
	if c.DataDir != "/data/x" || c.Logger == nil || c.Progress == nil {
		t.Fatalf("withDefaults = %+v", c)
	}
}

func TestLockDataDir(t *testing.T) {
	dir := t.TempDir()
	first, err := lockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	pid, err := os.ReadFile(filepath.Join(dir, "cellplane.lock"))
	if err != nil || strings.TrimSpace(string(pid)) != strconv.Itoa(os.Getpid()) {
		t.Fatalf("lock file holds %q (%v), want our pid", pid, err)
	}

	second, err := lockDataDir(dir)
	if err == nil {
		second.Close()
		t.Fatal("a second lock on the same data directory succeeded")
	}
	if !errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("second lock = %v, want ErrAlreadyRunning", err)
	}
	if !strings.Contains(err.Error(), "pid "+strconv.Itoa(os.Getpid())) || !strings.Contains(err.Error(), dir) {
		t.Errorf("error %q does not name the holder's pid and the directory", err)
	}

	// The kernel drops the lock with its file, however the holder ends.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	third, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("lock after the holder closed it: %v", err)
	}
	third.Close()
}

func TestLockDataDirMissing(t *testing.T) {
	_, err := lockDataDir(filepath.Join(t.TempDir(), "missing"))
	if err == nil || errors.Is(err, ErrAlreadyRunning) {
		t.Fatalf("lock in a missing directory = %v, want an error other than ErrAlreadyRunning", err)
	}
}

func TestLoadInstance(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		dir := t.TempDir()
		in, err := loadInstance(dir, "", 0, nil)
		if err != nil || in.AddressBlock != DefaultAddressBlock {
			t.Fatalf("first load = %+v, %v; want the default block", in, err)
		}
		if in, err := loadInstance(dir, DefaultAddressBlock, 0, nil); err != nil || in.AddressBlock != DefaultAddressBlock {
			t.Fatalf("load asking for the stored block = %+v, %v", in, err)
		}
	})
	t.Run("requested is remembered", func(t *testing.T) {
		dir := t.TempDir()
		if in, err := loadInstance(dir, "127.120", 0, nil); err != nil || in.AddressBlock != "127.120" {
			t.Fatalf("first load = %+v, %v", in, err)
		}
		st, err := os.Stat(filepath.Join(dir, "instance.json"))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Fatalf("instance.json: %v, mode %v", err, st.Mode().Perm())
		}
		// Empty means "whatever the directory was created with".
		if in, err := loadInstance(dir, "", 0, nil); err != nil || in.AddressBlock != "127.120" {
			t.Fatalf("load without a request = %+v, %v; want the stored block", in, err)
		}
		// Every cluster's addresses derive from the block: it must never change.
		_, err = loadInstance(dir, "127.130", 0, nil)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "127.120") {
			t.Fatalf("load with another block = %v, want ErrInvalidConfig naming 127.120", err)
		}
	})
	t.Run("cells grow and never shrink", func(t *testing.T) {
		dir := t.TempDir()
		if in, err := loadInstance(dir, "", 0, nil); err != nil || in.Cells != 1 {
			t.Fatalf("first load = %+v, %v; want one cell", in, err)
		}
		if in, err := loadInstance(dir, "", 3, nil); err != nil || in.Cells != 3 {
			t.Fatalf("growing to 3 = %+v, %v", in, err)
		}
		if in, err := loadInstance(dir, "", 0, nil); err != nil || in.Cells != 3 {
			t.Fatalf("load without a request = %+v, %v; want the 3 remembered", in, err)
		}
		_, err := loadInstance(dir, "", 2, nil)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "cell drain") {
			t.Fatalf("shrinking to 2 = %v, want ErrInvalidConfig pointing at cell drain", err)
		}
	})
	t.Run("zone namespaces are chosen at creation", func(t *testing.T) {
		dir := t.TempDir()
		on, off := true, false
		if in, err := loadInstance(dir, "", 0, &on); err != nil || !in.ZoneNamespaces {
			t.Fatalf("create with namespaces = %+v, %v", in, err)
		}
		if in, err := loadInstance(dir, "", 0, nil); err != nil || !in.ZoneNamespaces {
			t.Fatalf("reload = %+v, %v; want namespaces remembered", in, err)
		}
		if _, err := loadInstance(dir, "", 0, &off); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "created") {
			t.Fatalf("switching to loopback = %v, want ErrInvalidConfig", err)
		}
	})
	t.Run("written before cells were counted", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "instance.json"), []byte(`{"addressBlock":"127.120"}`), 0o600); err != nil {
			t.Fatal(err)
		}
		if in, err := loadInstance(dir, "", 0, nil); err != nil || in.Cells != 1 || in.AddressBlock != "127.120" {
			t.Fatalf("load = %+v, %v; want 127.120 with one cell", in, err)
		}
	})
	t.Run("corrupt", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "instance.json"), []byte("{"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := loadInstance(dir, "", 0, nil); err == nil || !strings.Contains(err.Error(), "instance.json") {
			t.Fatalf("load of a corrupt file = %v, want an error naming it", err)
		}
	})
}

func TestStartRejectsBeforeTouchingAnything(t *testing.T) {
	ctx := context.Background()
	t.Run("invalid config", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		_, err := Start(ctx, Config{DataDir: dir, AddressBlock: "nope"})
		if !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("Start = %v, want ErrInvalidConfig", err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("Start created the data directory of an invalid config: %v", err)
		}
	})
	t.Run("already running", func(t *testing.T) {
		dir := t.TempDir()
		held, err := lockDataDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		if _, err := Start(ctx, Config{DataDir: dir}); !errors.Is(err, ErrAlreadyRunning) {
			t.Fatalf("Start = %v, want ErrAlreadyRunning", err)
		}
	})
}

// TestStartFailureReleasesLock covers failures after the data directory is locked:
// Start must return the error and let go of the directory.
func TestStartFailureReleasesLock(t *testing.T) {
	ctx := context.Background()
	t.Run("block changed", func(t *testing.T) {
		dir := t.TempDir()
		if _, err := loadInstance(dir, "127.121", 0, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := Start(ctx, Config{DataDir: dir, AddressBlock: "127.131"}); !errors.Is(err, ErrInvalidConfig) {
			t.Fatalf("Start = %v, want ErrInvalidConfig", err)
		}
		assertUnlocked(t, dir)
	})
	t.Run("address in use", func(t *testing.T) {
		// An odd block: the e2e framework hands out even ones.
		const block = "127.247"
		ln, err := net.Listen("tcp", "127.247.0.1:8443")
		if err != nil {
			t.Skipf("cannot hold the regional API address: %v", err)
		}
		defer ln.Close()
		dir := t.TempDir()
		_, err = Start(ctx, Config{DataDir: dir, AddressBlock: block})
		if !errors.Is(err, ErrAddressInUse) || !strings.Contains(err.Error(), "--address-block") {
			t.Fatalf("Start = %v, want ErrAddressInUse naming --address-block", err)
		}
		assertUnlocked(t, dir)
	})
}

func assertUnlocked(t *testing.T, dir string) {
	t.Helper()
	f, err := lockDataDir(dir)
	if err != nil {
		t.Fatalf("data directory still locked after a failed Start: %v", err)
	}
	f.Close()
}

package region

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/ipam"
)

func TestStartRejectsBeforeTouchingAnything(t *testing.T) {
	ctx := context.Background()
	t.Run("invalid config", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		_, err := Start(ctx, Config{DataDir: dir, AddressBlock: "nope"})
		if !errors.Is(err, errdefs.ErrInvalidConfig) {
			t.Fatalf("Start = %v, want ErrInvalidConfig", err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("Start created the data directory of an invalid config: %v", err)
		}
	})
	t.Run("already running", func(t *testing.T) {
		dir := t.TempDir()
		held, err := datadir.Lock(dir)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Close()
		if _, err := Start(ctx, Config{DataDir: dir}); !errors.Is(err, datadir.ErrAlreadyRunning) {
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
		if _, err := datadir.LoadInstance(dir, "127.121", 0, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := Start(ctx, Config{DataDir: dir, AddressBlock: "127.131"}); !errors.Is(err, errdefs.ErrInvalidConfig) {
			t.Fatalf("Start = %v, want ErrInvalidConfig", err)
		}
		assertUnlocked(t, dir)
	})
	t.Run("address in use", func(t *testing.T) {
		// An odd block: the e2e framework hands out even ones.
		const block = "127.247"
		b, err := ipam.ParseBlock(block, 1)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", ipam.HostPort(b.RegionIP(), ipam.RegionAPIPort))
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
	f, err := datadir.Lock(dir)
	if err != nil {
		t.Fatalf("data directory still locked after a failed Start: %v", err)
	}
	f.Close()
}

func TestFatal(t *testing.T) {
	s := &Service{errc: make(chan error, 1)}
	for _, err := range []error{nil, context.Canceled, fmt.Errorf("serving: %w", http.ErrServerClosed)} {
		s.fatal("part", err)
	}
	if len(s.errc) != 0 {
		t.Fatalf("a normal shutdown was reported as fatal: %v", <-s.errc)
	}
	boom := errors.New("boom")
	s.fatal("cell-1 controllers", boom)
	s.fatal("regional API", errors.New("second")) // full: dropped, not blocking
	err := <-s.Done()
	if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "cell-1 controllers: ") {
		t.Fatalf("Done() = %v", err)
	}
}

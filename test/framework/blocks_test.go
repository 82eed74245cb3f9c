package framework

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A suite has more instances than there are blocks: the blocks go round and
// stay inside their range, clear of the benchmarks' addresses.
func TestFreeBlockStaysInRange(t *testing.T) {
	seen := map[int]bool{}
	for range 3 * blockRange / blockStride {
		n, err := strconv.Atoi(strings.TrimPrefix(freeBlock(), "127."))
		if err != nil {
			t.Fatal(err)
		}
		if n < firstBlock || n+blockStride > firstBlock+blockRange || (n-firstBlock)%blockStride != 0 {
			t.Fatalf("block 127.%d is outside 127.%d-127.%d or not on a %d-block boundary", n, firstBlock, firstBlock+blockRange-1, blockStride)
		}
		seen[n] = true
	}
	// A suite running beside this one may hold a block or two.
	if len(seen) < blockRange/blockStride-3 {
		t.Errorf("%d distinct blocks handed out, want nearly all %d", len(seen), blockRange/blockStride)
	}
}

// An instance whose cellplane up exits at once fails its start at once, not
// after the five minutes a slow start may take.
func TestStartFailsFastWhenUpExits(t *testing.T) {
	ft := &fatalRecorder{TB: t}
	in := &Instance{T: ft, Bins: Binaries{Cellplane: "/bin/false"}, DataDir: t.TempDir(), Block: "127.199"}
	start := time.Now()
	func() {
		defer func() { _ = recover() }()
		in.Start(context.Background())
	}()
	_ = in.cmd.Wait() // reap it
	if !ft.failed || time.Since(start) > 30*time.Second {
		t.Errorf("Start with an exiting up: failed %v after %s", ft.failed, time.Since(start))
	}
}

// fatalRecorder records Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	failed bool
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(string, ...any) {
	f.failed = true
	panic("fatal")
}

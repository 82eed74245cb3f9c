package nodeaddr

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestOf(t *testing.T) {
	a, err := Of(7, netip.MustParsePrefix("127.3.0.0/16"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Address.String() != "10.250.1.7" || a.PodCIDR.String() != "10.244.7.0/24" || a.CellSource.String() != "127.3.240.7" {
		t.Errorf("Of(7) = %+v", a)
	}
	if a.Address.IsLoopback() || a.PodCIDR.Contains(a.Address) {
		t.Errorf("address %s must be non-loopback and outside the pod range", a.Address)
	}
	if !netip.MustParsePrefix("10.244.0.0/16").Contains(a.PodCIDR.Addr()) {
		t.Errorf("pod range %s outside the clusters' 10.244.0.0/16", a.PodCIDR)
	}
	for _, k := range []int{0, Max + 1, -1} {
		if _, err := Of(k, netip.MustParsePrefix("127.3.0.0/16")); err == nil {
			t.Errorf("Of(%d) succeeded", k)
		}
	}
}

func TestClaimReleaseKeep(t *testing.T) {
	a := Allocator{Dir: t.TempDir(), NetnsDir: t.TempDir()}
	k1, err := a.Claim("n1", 0)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := a.Claim("n2", 0)
	if err != nil {
		t.Fatal(err)
	}
	if k1 == k2 || k1 < 1 || k2 < 1 {
		t.Fatalf("claims %d and %d", k1, k2)
	}
	// A key keeps its index, asked with or without it.
	if k, err := a.Claim("n1", k1); err != nil || k != k1 {
		t.Errorf("reclaim n1 with %d = %d, %v", k1, k, err)
	}
	if k, err := a.Claim("n1", 0); err != nil || k != k1 {
		t.Errorf("reclaim n1 = %d, %v", k, err)
	}
	// Preferring another's index does not take it.
	if k, err := a.Claim("n3", k2); err != nil || k == k2 || k == k1 {
		t.Errorf("n3 preferring n2's %d got %d, %v", k2, k, err)
	}
	// Release by another key is ignored; by the owner it frees the index.
	if err := a.Release("n2", k1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(a.Dir, fmt.Sprint(k1))); err != nil {
		t.Errorf("n2 released n1's claim: %v", err)
	}
	if err := a.Release("n1", k1); err != nil {
		t.Fatal(err)
	}
	if k, err := a.Claim("n4", 0); err != nil || k != k1 {
		t.Errorf("after release, n4 got %d, %v; want %d", k, err, k1)
	}
}

func TestStaleClaims(t *testing.T) {
	now := time.Now()
	a := Allocator{Dir: t.TempDir(), NetnsDir: t.TempDir(), Now: func() time.Time { return now }}
	for i := range Max {
		if _, err := a.Claim(fmt.Sprintf("n%d", i), 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.Claim("late", 0); !errors.Is(err, ErrExhausted) {
		t.Fatalf("claim with all taken: %v", err)
	}
	// Old enough, but n0's machine runs: not stale. n1's is gone: stale.
	now = now.Add(2 * time.Minute)
	if err := os.WriteFile(filepath.Join(a.NetnsDir, "cellplane-node-n0"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := a.Claim("late", 0)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(a.Dir, fmt.Sprint(k)))
	if k != 2 || string(b) != "late\n" {
		t.Errorf("took over %d (%q), want 2, n1's", k, b)
	}
	// Fresh claims are never taken over.
	now = time.Now()
	a2 := Allocator{Dir: t.TempDir(), NetnsDir: a.NetnsDir}
	if _, err := a2.Claim("x", 0); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= Max; i++ {
		if _, err := a2.Claim(fmt.Sprintf("y%d", i), 0); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a2.Claim("z", 0); !errors.Is(err, ErrExhausted) {
		t.Errorf("a fresh claim without a machine was taken over: %v", err)
	}
}

func TestConcurrentClaimsAreUnique(t *testing.T) {
	a := Allocator{Dir: t.TempDir(), NetnsDir: t.TempDir()}
	var mu sync.Mutex
	seen := map[int]string{}
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			key := fmt.Sprintf("c%d", i)
			k, err := a.Claim(key, 0)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if other, dup := seen[k]; dup {
				t.Errorf("index %d given to %s and %s", k, other, key)
			}
			seen[k] = key
		}()
	}
	wg.Wait()
}

func TestClaimAgainRefreshes(t *testing.T) {
	now := time.Now()
	a := Allocator{Dir: t.TempDir(), NetnsDir: t.TempDir(), Now: func() time.Time { return now }}
	k, err := a.Claim("n", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= Max; i++ {
		if _, err := a.Claim(fmt.Sprintf("o%d", i), 0); err != nil {
			t.Fatal(err)
		}
	}
	// Two minutes on, n's machine is between runs (no namespace), but n
	// asked for its claim a moment ago: nobody may take it.
	now = now.Add(2 * time.Minute)
	if got, err := a.Claim("n", k); err != nil || got != k {
		t.Fatalf("n again: %d, %v", got, err)
	}
	for i := 2; i <= Max; i++ {
		if _, err := a.Claim(fmt.Sprintf("o%d", i), i); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := a.Claim("late", 0); !errors.Is(err, ErrExhausted) {
		t.Errorf("a refreshed claim was taken over: %d, %v", got, err)
	}
}

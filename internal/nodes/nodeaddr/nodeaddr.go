package nodeaddr

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultDir is the host-wide directory of claims.
const DefaultDir = "/run/cellplane/node-addresses"

// Max is the highest index; 1..Max are claimable.
const Max = 250

// staleAfter is how old a claim without its machine must be before it is
// taken over: a claim is made a moment before the machine's namespace.
const staleAfter = time.Minute

// ErrExhausted is returned when every index is claimed.
var ErrExhausted = errors.New("no free node address on this host")

// Addresses are what a machine of index K gets.
type Addresses struct {
	K          int
	Address    netip.Addr
	PodCIDR    netip.Prefix
	CellSource netip.Addr
}

// Of derives the addresses of index k for a cell whose loopback block is
// cellPrefix (a /16).
func Of(k int, cellPrefix netip.Prefix) (Addresses, error) {
	if k < 1 || k > Max {
		return Addresses{}, fmt.Errorf("node address index %d outside 1..%d", k, Max)
	}
	if !cellPrefix.Addr().Is4() || cellPrefix.Bits() > 16 {
		return Addresses{}, fmt.Errorf("cell prefix %s: want an IPv4 /16", cellPrefix)
	}
	c := cellPrefix.Masked().Addr().As4()
	c[2], c[3] = 240, byte(k)
	return Addresses{
		K:          k,
		Address:    netip.AddrFrom4([4]byte{10, 250, 1, byte(k)}),
		PodCIDR:    netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 244, byte(k), 0}), 24),
		CellSource: netip.AddrFrom4(c),
	}, nil
}

// Allocator claims indexes under Dir.
type Allocator struct {
	// Dir holds one file per claimed index; "" is DefaultDir.
	Dir string
	// NetnsDir is where machines' namespaces are; "" is /run/netns.
	NetnsDir string
	// Now is the clock; nil is time.Now.
	Now func() time.Time
}

func (a Allocator) dir() string {
	if a.Dir == "" {
		return DefaultDir
	}
	return a.Dir
}

func (a Allocator) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

// Claim returns an index for key: the one key holds already if any
// (prefer, when it names key's claim), else a free or stale one.
func (a Allocator) Claim(key string, prefer int) (int, error) {
	if key == "" || strings.ContainsAny(key, "/\n") {
		return 0, fmt.Errorf("node address claim: bad key %q", key)
	}
	unlock, err := a.lock()
	if err != nil {
		return 0, err
	}
	defer unlock()
	// A claim its owner asks for again is refreshed: a live owner's claim
	// never looks stale while its machine is between two runs.
	if prefer >= 1 && prefer <= Max {
		if owner, _, err := a.owner(prefer); err == nil && owner == key {
			return prefer, a.touch(prefer)
		}
	}
	for k := 1; k <= Max; k++ {
		if owner, _, err := a.owner(k); err == nil && owner == key {
			return k, a.touch(k)
		}
	}
	for k := 1; k <= Max; k++ {
		ok, err := a.tryClaim(k, key)
		if err != nil {
			return 0, err
		}
		if ok {
			return k, nil
		}
	}
	return 0, fmt.Errorf("%w (%d claims in %s)", ErrExhausted, Max, a.dir())
}

func (a Allocator) touch(k int) error {
	now := a.now()
	if err := os.Chtimes(a.path(k), now, now); err != nil {
		return fmt.Errorf("refreshing node address claim %d: %w", k, err)
	}
	return nil
}

func (a Allocator) path(k int) string { return filepath.Join(a.dir(), strconv.Itoa(k)) }

// owner reads a claim: its key and when it was made.
func (a Allocator) owner(k int) (string, time.Time, error) {
	p := a.path(k)
	b, err := os.ReadFile(p) //nolint:gosec // G304: a claim file of this directory
	if err != nil {
		return "", time.Time{}, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return "", time.Time{}, err
	}
	return strings.TrimSpace(string(b)), st.ModTime(), nil
}

// tryClaim creates k's file, after removing it if stale.
func (a Allocator) tryClaim(k int, key string) (bool, error) {
	f, err := os.OpenFile(a.path(k), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644) //nolint:gosec // G302: see MkdirAll
	if errors.Is(err, os.ErrExist) {
		if !a.stale(k) {
			return false, nil
		}
		// Claim runs under the directory's lock, so no other claimant
		// takes it over between this check and the create.
		if err := os.Remove(a.path(k)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return false, fmt.Errorf("reclaiming node address %d: %w", k, err)
		}
		f, err = os.OpenFile(a.path(k), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644) //nolint:gosec // G302: see MkdirAll
		if errors.Is(err, os.ErrExist) {
			return false, nil
		}
	}
	if err != nil {
		return false, fmt.Errorf("claiming node address %d: %w", k, err)
	}
	_, werr := f.WriteString(key + "\n")
	if err := errors.Join(werr, f.Close()); err != nil {
		_ = os.Remove(a.path(k))
		return false, fmt.Errorf("claiming node address %d: %w", k, err)
	}
	return true, nil
}

// stale reports whether k's claim outlived its machine.
func (a Allocator) stale(k int) bool {
	owner, at, err := a.owner(k)
	if err != nil {
		return false
	}
	if a.now().Sub(at) < staleAfter {
		return false
	}
	netnsDir := a.NetnsDir
	if netnsDir == "" {
		netnsDir = "/run/netns"
	}
	_, err = os.Stat(filepath.Join(netnsDir, "cellplane-node-"+owner))
	return errors.Is(err, os.ErrNotExist)
}

// Release gives k up if key holds it; anything else is left alone.
func (a Allocator) Release(key string, k int) error {
	if k < 1 || k > Max {
		return nil
	}
	unlock, err := a.lock()
	if err != nil {
		return err
	}
	defer unlock()
	owner, _, err := a.owner(k)
	if errors.Is(err, os.ErrNotExist) || (err == nil && owner != key) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("releasing node address %d: %w", k, err)
	}
	if err := os.Remove(a.path(k)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("releasing node address %d: %w", k, err)
	}
	return nil
}

// lock takes the directory's lock, host-wide: claims of several processes
// (and their stale take-overs) are one at a time.
func (a Allocator) lock() (func(), error) {
	if err := os.MkdirAll(a.dir(), 0o755); err != nil { //nolint:gosec // G301: claims are public, as the routes they stand for
		return nil, fmt.Errorf("creating %s: %w", a.dir(), err)
	}
	f, err := os.Open(a.dir()) // the directory itself: no lock file to leave behind
	if err != nil {
		return nil, fmt.Errorf("opening the node address lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("locking node addresses: %w", err)
	}
	return func() { _ = f.Close() }, nil // closing releases the lock
}

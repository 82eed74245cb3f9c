package zonenet

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"reflect"
	"syscall"
	"testing"
	"time"
)

func TestEnsureConnectsZones(t *testing.T) {
	z := setup(t)
	before := inode(t, z.n.Path("a"))
	if err := z.n.Ensure(); err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if after := inode(t, z.n.Path("a")); after != before {
		t.Fatalf("second Ensure replaced zone a's namespace (inode %d, was %d)", after, before)
	}
	if local := reach(t, z.host, z.a); local.(*net.TCPAddr).IP.String() != "127.250.0.1" {
		t.Errorf("host reached zone a from %s, want 127.250.0.1", local)
	}
	reach(t, z.n.Path("a"), z.b)
	reach(t, z.n.Path("a"), z.h)
	reach(t, z.n.Path("b"), z.a)
	if f := z.n.Faults(); len(f) != 0 {
		t.Errorf("Faults() = %v, want none", f)
	}
}

func TestBlackhole(t *testing.T) {
	z := setup(t)
	var open net.Conn
	err := inPath(z.host, func() (err error) {
		open, err = net.DialTimeout("tcp", z.a, time.Second)
		return err
	})
	if err != nil {
		t.Fatalf("dialing zone a: %v", err)
	}
	defer open.Close()

	z.set(t, "a", Fault{Kind: KindBlackhole})
	silent(t, z.host, z.a)
	// A connection made before stalls: the echo never comes back.
	open.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := open.Write([]byte{1}); err != nil {
		t.Fatalf("writing to zone a: %v", err)
	}
	if _, err := open.Read(make([]byte, 1)); !isTimeout(err) {
		t.Fatalf("reading the echo from blackholed zone a: %v, want a timeout", err)
	}
	silent(t, z.n.Path("b"), z.a)
	reach(t, z.host, z.b)
	_, _, err = roundTrip(z.n.Path("a"), z.b, 500*time.Millisecond)
	t.Logf("blackholed zone a to zone b: %v", err)
	// Inside the zone traffic still flows: its /19 is more specific.
	reach(t, z.n.Path("a"), z.a)

	if err := z.n.Ensure(); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	silent(t, z.host, z.a)
	if want := map[string]Fault{"a": {Kind: KindBlackhole}}; !reflect.DeepEqual(z.n.Faults(), want) {
		t.Errorf("Faults() = %v, want %v", z.n.Faults(), want)
	}

	z.set(t, "a", Fault{})
	reach(t, z.host, z.a)
	reach(t, z.n.Path("a"), z.b)
	if f := z.n.Faults(); len(f) != 0 {
		t.Errorf("Faults() = %v after clearing, want none", f)
	}
}

func TestCut(t *testing.T) {
	z := setup(t)
	z.set(t, "a", Fault{Kind: KindCut})
	if _, _, err := roundTrip(z.host, z.a, 500*time.Millisecond); err == nil {
		t.Fatal("zone a answered the host while cut")
	} else {
		t.Logf("host to cut zone: %v", err)
	}
	// Like a dead link, and unlike the zone's own loopback answering,
	// which a cut without a route of its own would give.
	if _, _, err := roundTrip(z.n.Path("a"), z.b, 500*time.Millisecond); !errors.Is(err, syscall.EHOSTUNREACH) {
		t.Fatalf("cut zone a to zone b: %v, want EHOSTUNREACH", err)
	}
	reach(t, z.host, z.b)

	if err := z.n.Ensure(); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if _, _, err := roundTrip(z.host, z.a, 500*time.Millisecond); err == nil {
		t.Fatal("Ensure lifted the cut")
	}

	z.set(t, "a", Fault{})
	reach(t, z.host, z.a)
	reach(t, z.n.Path("a"), z.b)
}

func TestDegrade(t *testing.T) {
	z := setup(t)
	reach(t, z.host, z.a)
	f := Fault{Kind: KindDegrade, Latency: 200 * time.Millisecond}
	z.set(t, "a", f)

	// The SYN-ACK and the echo each wait 200ms on their way out of zone a.
	for _, from := range []string{z.host, z.n.Path("b")} {
		d, _, err := roundTrip(from, z.a, 2*time.Second)
		if err != nil || d < 190*time.Millisecond || d >= time.Second {
			t.Fatalf("roundtrip from %s to degraded zone a = %s, %v; want 190ms to 1s", from, d, err)
		}
		t.Logf("roundtrip from %s to degraded zone a: %s", from, d)
	}
	reach(t, z.host, z.b)
	if want := map[string]Fault{"a": f}; !reflect.DeepEqual(z.n.Faults(), want) {
		t.Errorf("Faults() = %v, want %v", z.n.Faults(), want)
	}

	z.set(t, "a", Fault{Kind: KindDegrade, LossPercent: 100})
	silent(t, z.host, z.a)

	z.set(t, "a", Fault{})
	reach(t, z.host, z.a)
}

// TestRestartClears plays a cell that dies with a fault set and a new
// process that starts and clears it from what the kernel shows.
func TestRestartClears(t *testing.T) {
	z := setup(t)
	second := newTestNet(t, z.host)
	for _, f := range []Fault{
		{Kind: KindBlackhole},
		{Kind: KindCut},
		{Kind: KindDegrade, Latency: 200 * time.Millisecond},
	} {
		t.Run(string(f.Kind), func(t *testing.T) {
			z.set(t, "a", f)
			// Dying closes the degrade TUN; the redirect to it stays.
			if err := z.n.Close(); err != nil {
				t.Fatal(err)
			}
			if _, _, err := roundTrip(z.host, z.a, 500*time.Millisecond); err == nil {
				t.Fatalf("zone a answered with %s left by a dead process", f)
			}
			if err := second.Ensure(); err != nil {
				t.Fatalf("Ensure: %v", err)
			}
			if err := second.SetFault("a", Fault{}); err != nil {
				t.Fatalf("clearing: %v", err)
			}
			reach(t, z.host, z.a)
		})
	}
}

func inode(t *testing.T, path string) uint64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Ino
}

// TestResetConnectionsTo: connections into a blackholed zone, from the host
// and from zone b, stall; resetting them ends them at once with an error,
// while a connection to zone b stays open.
func TestResetConnectionsTo(t *testing.T) {
	z := setup(t)
	dial := func(path, addr string) net.Conn {
		var c net.Conn
		if err := inPath(path, func() (err error) {
			c, err = net.DialTimeout("tcp", addr, time.Second)
			return err
		}); err != nil {
			t.Fatalf("dialing %s from %s: %v", addr, path, err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	fromHost, fromB, toB := dial(z.host, z.a), dial(z.n.Path("b"), z.a), dial(z.host, z.b)
	z.set(t, "a", Fault{Kind: KindBlackhole})

	n, err := z.n.ResetConnectionsTo("a")
	if err != nil || n < 2 {
		t.Fatalf("ResetConnectionsTo(a) = %d, %v; want at least the two connections into zone a", n, err)
	}
	for name, c := range map[string]net.Conn{"host": fromHost, "zone b": fromB} {
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Errorf("read on the %s's connection into zone a: %v, want it reset", name, err)
		}
	}
	toB.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := toB.Write([]byte{1}); err != nil {
		t.Fatalf("writing to zone b: %v", err)
	}
	if _, err := toB.Read(make([]byte, 1)); err != nil {
		t.Errorf("the connection to zone b was hurt: %v", err)
	}
	if _, err := z.n.ResetConnectionsTo("d"); !errors.Is(err, ErrUnknownZone) {
		t.Errorf("ResetConnectionsTo(d) = %v, want ErrUnknownZone", err)
	}
}

// TestCanaries: each zone's canary completes a TLS handshake from the host,
// and goes silent with its zone.
func TestCanaries(t *testing.T) {
	z := setup(t)
	c, err := z.n.StartCanaries()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	handshake := func(zone string) error {
		return inPath(z.host, func() error {
			conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 500 * time.Millisecond}, "tcp", c.Addr[zone],
				&tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the canary's certificate is throwaway
			if err == nil {
				conn.Close()
			}
			return err
		})
	}
	for _, zone := range []string{"a", "b", "c"} {
		if err := handshake(zone); err != nil {
			t.Fatalf("zone %s canary: %v", zone, err)
		}
	}
	z.set(t, "a", Fault{Kind: KindBlackhole})
	if err := handshake("a"); !isTimeout(err) {
		t.Errorf("blackholed zone a's canary: %v, want a timeout", err)
	}
	if err := handshake("b"); err != nil {
		t.Errorf("zone b's canary: %v", err)
	}
}

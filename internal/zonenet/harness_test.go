package zonenet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/poll"
)

// The tests own cell octet 250 (block 127.249, cell 1) and namespace names
// starting with "cpzt-host-" and "cellplane-250-". They never touch the real
// host namespace: a scratch namespace stands in for it.

func testCell(t *testing.T) ipam.Cell {
	b, err := ipam.ParseBlock("127.249", 3)
	if err != nil {
		t.Fatal(err)
	}
	return b.Cell(1)
}

func needKernel(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	if err := Supported(); err != nil {
		t.Skipf("zone namespaces unsupported: %v", err)
	}
}

var hostSeq atomic.Int32

// scratchHost creates a namespace that plays the host, with lo up so that
// 127/8 is local in it as on a real host, and returns its path.
func scratchHost(t *testing.T) string {
	t.Helper()
	name := fmt.Sprintf("cpzt-host-%d-%d", os.Getpid(), hostSeq.Add(1))
	t.Cleanup(func() {
		if err := deleteNamed(name); err != nil {
			t.Errorf("deleting scratch host: %v", err)
		}
		if _, err := os.Stat(filepath.Join(netnsDir, name)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("scratch host %s left behind: %v", name, err)
		}
	})
	err := isolated(func() error {
		ns, err := netns.NewNamed(name)
		if err != nil {
			return err
		}
		defer ns.Close()
		return linkUp(ns, "lo")
	})
	if err != nil {
		t.Fatalf("creating scratch host: %v", err)
	}
	return filepath.Join(netnsDir, name)
}

func linkUp(ns netns.NsHandle, name string) error {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return err
	}
	defer h.Close()
	link, err := h.LinkByName(name)
	if err != nil {
		return err
	}
	return h.LinkSetUp(link)
}

// newTestNet returns a Net on the scratch host whose cleanup removes
// everything and checks that nothing of the test's is left.
func newTestNet(t *testing.T, host string) *Net {
	t.Helper()
	n := New(Options{Cell: testCell(t), HostNS: host, Log: slog.New(slog.NewTextHandler(t.Output(), nil))})
	t.Cleanup(func() {
		if err := n.Remove(); err != nil {
			t.Errorf("Remove: %v", err)
		}
		if err := n.Remove(); err != nil {
			t.Errorf("second Remove: %v", err)
		}
		assertRemoved(t, host)
	})
	return n
}

func assertRemoved(t *testing.T, host string) {
	t.Helper()
	entries, err := os.ReadDir(netnsDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "cellplane-250-") {
			t.Errorf("namespace %s left behind", e.Name())
		}
	}
	ns, err := netns.GetFromPath(host)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if name := l.Attrs().Name; strings.HasPrefix(name, "cpz250") || strings.HasPrefix(name, "cpd250") {
			t.Errorf("link %s left behind", name)
		}
	}
}

// inPath runs fn on a thread inside the namespace at path. Sockets made
// there stay in that namespace wherever they are used later.
func inPath(path string, fn func() error) error {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return err
	}
	defer ns.Close()
	return inNS(ns, fn)
}

// serve runs a one-byte echo server inside the namespace at path and
// returns its address.
func serve(t *testing.T, path, addr string) string {
	t.Helper()
	var ln net.Listener
	err := inPath(path, func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatalf("listening on %s in %s: %v", addr, path, err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go echo(c)
		}
	}()
	return ln.Addr().String()
}

func echo(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err == nil {
		_, _ = c.Write(b[:]) // the peer sees a missing echo as the failure
	}
}

// roundTrip connects from the namespace at path to addr and echoes one byte,
// all within timeout, and returns how long that took and our address.
func roundTrip(path, addr string, timeout time.Duration) (time.Duration, net.Addr, error) {
	start := time.Now()
	var c net.Conn
	err := inPath(path, func() (err error) {
		c, err = (&net.Dialer{Timeout: timeout}).Dial("tcp", addr)
		return err
	})
	if err != nil {
		return 0, nil, err
	}
	defer c.Close()
	c.SetDeadline(start.Add(timeout))
	var b [1]byte
	if _, err := c.Write([]byte{7}); err != nil {
		return 0, nil, err
	}
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return 0, nil, err
	}
	return time.Since(start), c.LocalAddr(), nil
}

const fast = 100 * time.Millisecond // generous for a loopback roundtrip under -race

// reach waits until a roundtrip from path to addr works and is fast; fault
// changes can take a moment to show (ARP after a link comes back).
func reach(t *testing.T, path, addr string) net.Addr {
	t.Helper()
	var local net.Addr
	eventually(t, fmt.Sprintf("%s reachable from %s", addr, path), func() error {
		d, l, err := roundTrip(path, addr, time.Second)
		if err == nil && d >= fast {
			err = fmt.Errorf("roundtrip took %s", d)
		}
		local = l
		return err
	})
	return local
}

// silent checks that addr does not answer at all from path: the dial times
// out rather than being refused or reset.
func silent(t *testing.T, path, addr string) {
	t.Helper()
	_, _, err := roundTrip(path, addr, 500*time.Millisecond)
	if !isTimeout(err) {
		t.Fatalf("roundtrip to %s = %v, want a timeout", addr, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout() &&
		!errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, syscall.ECONNRESET)
}

// eventually retries fn until it succeeds or five seconds pass.
func eventually(t *testing.T, what string, fn func() error) {
	t.Helper()
	if err := poll.Until(context.Background(), 5*time.Second, 50*time.Millisecond, fn); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// zones is a test's Net with an echo server in zones a and b and one on the
// host side.
type zones struct {
	host, a, b, h string
	n             *Net
}

func setup(t *testing.T) zones {
	t.Helper()
	needKernel(t)
	host := scratchHost(t)
	n := newTestNet(t, host)
	if err := n.Ensure(); err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	return zones{
		host: host, n: n,
		a: serve(t, n.Path("a"), "127.250.32.7:0"),
		b: serve(t, n.Path("b"), "127.250.64.9:0"),
		h: serve(t, host, "127.250.0.1:0"),
	}
}

func (z zones) set(t *testing.T, zone string, f Fault) {
	t.Helper()
	if err := z.n.SetFault(zone, f); err != nil {
		t.Fatalf("SetFault(%s, %s): %v", zone, f, err)
	}
}

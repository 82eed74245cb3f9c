package clusternet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/poll"
	"github.com/cellplane/cellplane/internal/runtime/nsthread"
)

// fakeNode is a namespace standing in for a machine: the node's address
// and one pod address on its lo, and a server on the pod address that
// answers with the caller's address.
type fakeNode struct {
	Node
	path string
	pod  netip.Addr
}

func newFakeNode(t *testing.T, name string, k byte) *fakeNode {
	t.Helper()
	n := &fakeNode{
		Node: Node{Name: name, Address: netip.AddrFrom4([4]byte{10, 250, 201, k}), PodCIDR: netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 244, 200 + k, 0}), 24)},
		path: filepath.Join(netnsDir, "cellplane-nettest-"+name),
		pod:  netip.AddrFrom4([4]byte{10, 244, 200 + k, 5}),
	}
	var ns netns.NsHandle
	err := nsthread.Isolated(func() error {
		var err error
		ns, err = netns.NewNamed(filepath.Base(n.path))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = unix.Unmount(n.path, unix.MNT_DETACH)
		_ = os.Remove(n.path)
	})
	defer func() { _ = ns.Close() }()
	nl, err := netlink.NewHandleAt(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer nl.Close()
	lo, err := nl.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := nl.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	for _, a := range []netip.Addr{n.Address, n.pod} {
		if err := nl.AddrAdd(lo, &netlink.Addr{IPNet: prefixNet(netip.PrefixFrom(a, 32))}); err != nil {
			t.Fatal(err)
		}
	}
	var ln net.Listener
	err = nsthread.In(ns, func() error {
		var err error
		ln, err = net.Listen("tcp", netip.AddrPortFrom(n.pod, 8080).String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go serveRemoteAddr(ln)
	return n
}

func serveRemoteAddr(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = io.WriteString(c, c.RemoteAddr().String())
		_ = c.Close()
	}
}

// dialFrom connects from inside the namespace at path and reads what the
// other end says.
func dialFrom(path string, to netip.AddrPort) (string, error) {
	var got []byte
	err := nsthread.InPath(path, func() error {
		c, err := net.DialTimeout("tcp", to.String(), 2*time.Second)
		if err != nil {
			return err
		}
		defer func() { _ = c.Close() }()
		if err := c.SetDeadline(time.Now().Add(3 * time.Second)); err != nil {
			return err
		}
		got, err = io.ReadAll(c)
		return err
	})
	return string(got), err
}

// Two nodes of one cluster network reach each other's pods through it, and
// the service address forwards to the upstream; a node of another
// cluster's network reaches neither. Remove refuses while nodes are
// attached and, after Detach, leaves nothing.
func TestClusterNetwork(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	suffix := fmt.Sprint(os.Getpid() % 100000)
	name, other := "nettest-"+suffix, "nettest-other-"+suffix
	t.Cleanup(func() { _ = Remove(name); _ = Remove(other) })
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = up.Close() }()
	go serveRemoteAddr(up)

	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- Run(ctx, Config{Name: name, Upstream: up.Addr().String()}) }()
	defer func() {
		cancel()
		if err := <-runErr; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	a, b := newFakeNode(t, "a"+suffix, 1), newFakeNode(t, "b"+suffix, 2)
	c := newFakeNode(t, "c"+suffix, 3)
	for _, n := range []struct {
		*fakeNode
		l Link
	}{{a, LinkOf(name)}, {b, LinkOf(name)}, {c, LinkOf(other)}} {
		ns, err := netns.GetFromPath(n.path)
		if err != nil {
			t.Fatal(err)
		}
		err = Attach(n.l, ns, n.Node)
		_ = ns.Close()
		if err != nil {
			t.Fatalf("attaching %s: %v", n.Name, err)
		}
		t.Cleanup(func() { _ = Detach(n.path) })
	}

	got, err := dialFrom(a.path, netip.AddrPortFrom(b.pod, 8080))
	if err != nil || !strings.HasPrefix(got, a.Address.String()+":") {
		t.Errorf("node a to node b's pod: %q, %v; want an answer seeing a's address %s", got, err, a.Address)
	}
	got, err = dialFrom(b.path, netip.AddrPortFrom(a.pod, 8080))
	if err != nil || !strings.HasPrefix(got, b.Address.String()+":") {
		t.Errorf("node b to node a's pod: %q, %v", got, err)
	}
	if got, err := dialFrom(c.path, netip.AddrPortFrom(b.pod, 8080)); err == nil {
		t.Errorf("a node of another cluster reached b's pod: %q", got)
	}
	// The forwarder answers on every service address once Run has listened.
	for _, svc := range ServiceAddresses() {
		err := poll.Until(ctx, 10*time.Second, 100*time.Millisecond, func() error {
			got, err = dialFrom(a.path, netip.AddrPortFrom(svc, APIServerPort))
			return err
		})
		if err != nil || !strings.HasPrefix(got, "127.0.0.1:") {
			t.Errorf("node a to the service address %s: %q, %v; want the upstream's answer", svc, got, err)
		}
	}
	if got, err := dialFrom(c.path, netip.AddrPortFrom(ServiceAddresses()[0], APIServerPort)); err == nil {
		t.Errorf("a node of another cluster network reached this one's forwarder: %q", got)
	}

	// The host sends nothing for a cluster network, a pod or a node without
	// a machine of its own to its default gateway.
	for _, ip := range []string{"10.249.0.11", "10.244.250.9", "10.250.250.9"} {
		if err := hostRefuses(ip); err != nil {
			t.Error(err)
		}
	}

	if err := Remove(name); !errors.Is(err, ErrInUse) {
		t.Errorf("Remove with nodes attached = %v, want ErrInUse", err)
	}
	for _, n := range []*fakeNode{a, b, c} {
		if err := Detach(n.path); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	if err := <-runErr; err != nil {
		t.Errorf("Run: %v", err)
	}
	runErr <- nil // for the deferred check
	for _, n := range []string{name, other} {
		if err := Remove(n); err != nil {
			t.Fatal(err)
		}
		if err := Remove(n); err != nil {
			t.Errorf("second Remove: %v", err)
		}
		if _, err := os.Stat(filepath.Join(netnsDir, NamespaceOf(n))); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace of %s left: %v", n, err)
		}
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Type: unix.RTN_UNREACHABLE}, netlink.RT_FILTER_TYPE)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range routes {
		t.Errorf("guard route %s left on the host", r)
	}
}

// hostRefuses checks that the host has no way out for ip: the lookup
// fails, or finds an unreachable route.
func hostRefuses(ip string) error {
	rs, err := netlink.RouteGet(net.ParseIP(ip))
	if errors.Is(err, unix.EHOSTUNREACH) || (err == nil && len(rs) == 1 && rs[0].Type == unix.RTN_UNREACHABLE) {
		return nil
	}
	return fmt.Errorf("host route to %s: %v, %v; want unreachable", ip, rs, err)
}

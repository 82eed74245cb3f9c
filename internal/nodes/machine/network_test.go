package machine

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/cellplane/cellplane/internal/runtime/nsthread"
)

// The machine's network reaches a listener on the cell's loopback block,
// the host reaches the node's address, and removeNetwork leaves neither
// the namespace nor the host's link behind.
func TestNetwork(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	c := &Config{
		Name: "nettest-" + filepath.Base(t.TempDir()), Address: netip.MustParseAddr("10.250.200.2"),
		PodCIDR:    netip.MustParsePrefix("10.251.200.0/24"),
		CellPrefix: netip.MustParsePrefix("127.231.0.0/16"), HostAddress: netip.MustParseAddr("127.231.0.1"), CellSource: netip.MustParseAddr("127.231.240.2"),
	}
	n := namesOf(c.Name)
	t.Cleanup(func() { _ = removeNetwork(n) })
	if err := setUpNetwork(c, n); err != nil {
		t.Fatal(err)
	}
	// A pod address goes into the machine, not to the host's default route.
	routes, err := netlink.RouteGet(net.ParseIP("10.251.200.7"))
	if err != nil || len(routes) == 0 {
		t.Fatalf("route to a pod: %v, %v", routes, err)
	}
	if link, err := netlink.LinkByIndex(routes[0].LinkIndex); err != nil || link.Attrs().Name != n.link {
		t.Errorf("a pod address is routed through %v (%v), want the machine's link %s", link, err, n.link)
	}
	ln, err := net.Listen("tcp", "127.231.128.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ln.Close() }()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(c.RemoteAddr().String()))
			_ = c.Close()
		}
	}()
	var got []byte
	err = nsthread.InPath(filepath.Join(netnsDir, n.netns), func() error {
		conn, err := net.DialTimeout("tcp", ln.Addr().String(), 3*time.Second)
		if err != nil {
			return err
		}
		defer func() { _ = conn.Close() }()
		got, err = io.ReadAll(conn)
		return err
	})
	if err != nil {
		t.Fatalf("dialling the cell from the machine: %v", err)
	}
	if host, _, _ := net.SplitHostPort(string(got)); host != c.CellSource.String() {
		t.Errorf("the cell saw the machine as %s, want its cell source %s", got, c.CellSource)
	}
	if err := removeNetwork(n); err != nil {
		t.Fatal(err)
	}
	if err := removeNetwork(n); err != nil {
		t.Fatalf("second remove: %v", err)
	}
	if _, err := os.Stat(filepath.Join(netnsDir, n.netns)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace left: %v", err)
	}
	if _, err := netlink.LinkByName(n.link); err == nil {
		t.Errorf("link %s left", n.link)
	}
}

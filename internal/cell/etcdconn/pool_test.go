package etcdconn

import (
	"errors"
	"sync"
	"testing"

	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/pki"
)

// The pool's clients connect lazily (clientv3 dials without blocking), so
// these tests need certificates but no running etcd. The members' addresses
// are in 127.249's cell, which no e2e suite uses: nothing answers there.

// testPlan is the plan of cluster name with uid, its certificates issued.
func testPlan(t *testing.T, name, uid string) *controlplane.Plan {
	t.Helper()
	b, err := ipam.ParseBlock("127.249", 1)
	if err != nil {
		t.Fatal(err)
	}
	p := controlplane.New(controlplane.Input{Namespace: "acct-1", Name: name, UID: uid, ClusterName: name,
		Dir: t.TempDir(), Cell: b.Cell(1), Slot: 5})
	if _, err := pki.EnsureCluster(p.PKIDir(), p.PKISpec()); err != nil {
		t.Fatal(err)
	}
	return p
}

func newPool(t *testing.T) *Pool {
	pl := New(nil)
	t.Cleanup(pl.Close)
	return pl
}

func closed(c *Conn) bool { return c.cli.Ctx().Err() != nil }

// Every caller of a cluster's etcd (care, backups, member replacement,
// restores) gets the one client, however many ask at once.
func TestPoolSharesOneConnectionPerCluster(t *testing.T) {
	pl := newPool(t)
	demo := testPlan(t, "demo", "uid-demo")
	const callers = 16
	conns := make([]*Conn, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { conns[i], errs[i] = pl.Get(demo) })
	}
	wg.Wait()
	for i := range callers {
		if errs[i] != nil {
			t.Fatalf("Get %d: %v", i, errs[i])
		}
		if conns[i] != conns[0] {
			t.Fatalf("caller %d got another connection than caller 0", i)
		}
	}
	// A plan derived again (the next pass's) is the same cluster by UID.
	again := testPlan(t, "demo", "uid-demo")
	if c, err := pl.Get(again); err != nil || c != conns[0] {
		t.Fatalf("Get with a new plan of the same UID = %p, %v; want the shared %p", c, err, conns[0])
	}
	// The same name with another UID is a new cluster, a new etcd.
	other, err := pl.Get(testPlan(t, "demo", "uid-recreated"))
	if err != nil || other == conns[0] {
		t.Fatalf("Get of a recreated cluster = %p, %v; want a connection of its own", other, err)
	}
	if pl.Len() != 2 {
		t.Errorf("Len = %d, want 2", pl.Len())
	}
	if got := conns[0].eps; len(got) != len(demo.EtcdEndpoints()) || got[0] != demo.EtcdEndpoints()[0] {
		t.Errorf("endpoints %v, want every member's %v", got, demo.EtcdEndpoints())
	}
}

func TestPoolRelease(t *testing.T) {
	pl := newPool(t)
	demo, keep := testPlan(t, "demo", "uid-demo"), testPlan(t, "keep", "uid-keep")
	c, err := pl.Get(demo)
	if err != nil {
		t.Fatal(err)
	}
	k, err := pl.Get(keep)
	if err != nil {
		t.Fatal(err)
	}
	pl.Release(demo.UID())
	if !closed(c) {
		t.Error("the released cluster's client is still open")
	}
	if closed(k) || pl.Len() != 1 {
		t.Errorf("another cluster's client was touched: closed %v, %d left", closed(k), pl.Len())
	}
	// A deleted cluster's etcd is never connected to again: a pass or a
	// backup worker still running for it must not open a new client.
	if _, err := pl.Get(demo); !errors.Is(err, ErrReleased) {
		t.Fatalf("Get after Release = %v, want ErrReleased", err)
	}
	pl.Release(demo.UID())     // again: harmless
	pl.Release("never-gotten") // a cluster nobody connected to: harmless
	if _, err := pl.Get(testPlan(t, "never", "never-gotten")); !errors.Is(err, ErrReleased) {
		t.Errorf("Get of a cluster released before anyone connected = %v, want ErrReleased", err)
	}
}

func TestPoolClose(t *testing.T) {
	pl := New(nil)
	var conns []*Conn
	for _, uid := range []string{"uid-a", "uid-b", "uid-c"} {
		c, err := pl.Get(testPlan(t, uid, uid))
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	pl.Close()
	for i, c := range conns {
		if !closed(c) {
			t.Errorf("client %d still open after Close", i)
		}
	}
	if pl.Len() != 0 {
		t.Errorf("Len = %d after Close", pl.Len())
	}
	if _, err := pl.Get(testPlan(t, "late", "uid-late")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close = %v, want ErrClosed", err)
	}
	pl.Close() // again: harmless
}

// A cluster whose certificates are not written yet gets an error, and no
// half-made client is kept for it.
func TestPoolWithoutCertificates(t *testing.T) {
	pl := newPool(t)
	b, err := ipam.ParseBlock("127.249", 1)
	if err != nil {
		t.Fatal(err)
	}
	p := controlplane.New(controlplane.Input{Namespace: "acct-1", Name: "new", UID: "uid-new", ClusterName: "new", Dir: t.TempDir(), Cell: b.Cell(1), Slot: 6})
	if _, err := pl.Get(p); err == nil {
		t.Fatal("Get without certificates succeeded")
	}
	if pl.Len() != 0 {
		t.Errorf("Len = %d after a failed Get", pl.Len())
	}
	if _, err := pki.EnsureCluster(p.PKIDir(), p.PKISpec()); err != nil {
		t.Fatal(err)
	}
	if _, err := pl.Get(p); err != nil {
		t.Fatalf("Get once the certificates exist: %v", err)
	}
}

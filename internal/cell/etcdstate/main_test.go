package etcdstate

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

// Most tests here are of files alone; the test of Show's mirror also writes
// it through a real management store, whose round trip of status times is
// what Show must match.
var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

// testPlan is a plan of a cluster in its own directory; it touches no files.
func testPlan(t *testing.T) *controlplane.Plan {
	t.Helper()
	b, err := ipam.ParseBlock("127.249", 1)
	if err != nil {
		t.Fatal(err)
	}
	return controlplane.New(controlplane.Input{Namespace: "acct-1", Name: "demo", UID: "uid-demo",
		ClusterName: "demo", Dir: t.TempDir(), Cell: b.Cell(1), Slot: 3})
}

// etcdMember is p's etcd member in zone.
func etcdMember(t *testing.T, p *controlplane.Plan, zone string) controlplane.Member {
	t.Helper()
	for _, m := range p.Members(controlplane.KindEtcd) {
		if m.Zone == zone {
			return m
		}
	}
	t.Fatalf("no etcd member in zone %s", zone)
	return controlplane.Member{}
}

// giveData leaves in m's data directory what etcd leaves once it has data: a
// write-ahead log segment.
func giveData(t *testing.T, p *controlplane.Plan, m controlplane.Member) {
	t.Helper()
	wal := filepath.Join(p.EtcdDataDir(m), "member", "wal")
	if err := os.MkdirAll(wal, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(wal, "0000000000000000-0000000000000000.wal"), []byte("wal"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

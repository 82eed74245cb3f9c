package members

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// Member replacement reads and writes no store: it takes the cluster as the
// lifecycle's pass holds it and records on disk. These fakes stand for etcd's
// membership API and the process runtime.

// fakeMembership is etcd's membership API with scripted answers; it records
// what it was asked.
type fakeMembership struct {
	mu         sync.Mutex
	members    []*pb.Member
	learnerID  uint64
	promoteErr error
	listErr    error
	removeErr  error
	addErr     error
	removed    []uint64
	added      []string // name@peerURL
	promoted   []uint64
}

func (f *fakeMembership) MemberList(context.Context) ([]*pb.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.members), f.listErr
}

func (f *fakeMembership) RemoveMember(_ context.Context, id uint64, _ *slog.Logger) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.removeErr != nil {
		return f.removeErr
	}
	f.removed = append(f.removed, id)
	f.members = slices.DeleteFunc(f.members, func(m *pb.Member) bool { return m.ID == id })
	return nil
}

func (f *fakeMembership) AddLearner(_ context.Context, name, peerURL string, _ *slog.Logger) (etcdcare.Join, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.addErr != nil {
		return etcdcare.Join{}, f.addErr
	}
	f.added = append(f.added, name+"@"+peerURL)
	f.members = append(f.members, &pb.Member{ID: f.learnerID, Name: name, PeerURLs: []string{peerURL}, IsLearner: true})
	return etcdcare.Join{ID: f.learnerID}, nil
}

func (f *fakeMembership) PromoteLearner(_ context.Context, id uint64, _ time.Duration, _ *slog.Logger) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.promoteErr != nil {
		return f.promoteErr
	}
	f.promoted = append(f.promoted, id)
	return nil
}

// fakeStopper records the members it was asked to stop.
type fakeStopper struct {
	mu      sync.Mutex
	stopped []process.Spec
	err     error
}

func (f *fakeStopper) Stop(_ context.Context, s process.Spec) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stopped = append(f.stopped, s)
	return f.err
}

func (f *fakeStopper) names() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.stopped {
		out = append(out, s.Name)
	}
	return out
}

// fixture is one cluster of the cell with its plan, a replacer whose dials
// are counted, and the fakes behind it.
type fixture struct {
	c      *v1alpha1.Cluster
	layout tenant.Layout
	p      *controlplane.Plan
	ms     *fakeMembership
	stop   *fakeStopper
	dials  int
	r      *Replacer
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	b, err := ipam.ParseBlock("127.249", 1)
	if err != nil {
		t.Fatal(err)
	}
	slot := int32(3)
	f := &fixture{
		c: &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: "acct-1", Name: "demo", UID: "uid-demo"},
			Spec: v1alpha1.ClusterSpec{Name: "demo", Version: "1.35"}, Status: v1alpha1.ClusterStatus{Slot: &slot}},
		layout: tenant.Layout{Dir: t.TempDir(), Cell: b.Cell(1), Joined: etcdstate.Joined},
		stop:   &fakeStopper{},
	}
	f.p = f.layout.Addresses(f.c)
	f.ms = &fakeMembership{learnerID: 0xbeef}
	for i, m := range f.p.Members(controlplane.KindEtcd) {
		f.ms.members = append(f.ms.members, &pb.Member{ID: uint64(0xa + i), Name: m.Name(), PeerURLs: []string{f.p.EtcdPeerURL(m)}})
	}
	f.r = &Replacer{Runner: f.stop, Logger: slog.New(slog.DiscardHandler),
		Dial: func(*controlplane.Plan) (Membership, error) { f.dials++; return f.ms, nil }}
	return f
}

func (f *fixture) member(t *testing.T, zone string) controlplane.Member {
	t.Helper()
	for _, m := range f.p.Members(controlplane.KindEtcd) {
		if m.Zone == zone {
			return m
		}
	}
	t.Fatalf("no etcd member in zone %s", zone)
	return controlplane.Member{}
}

// formed records that the cluster's etcd formed and gives the members of
// zones their data; the others have lost theirs.
func (f *fixture) formed(t *testing.T, zones ...string) {
	t.Helper()
	must(t, etcdstate.For(f.p).MarkBootstrapped())
	for _, z := range zones {
		wal := filepath.Join(f.p.EtcdDataDir(f.member(t, z)), "member", "wal")
		must(t, os.MkdirAll(wal, 0o700))
		must(t, os.WriteFile(filepath.Join(wal, "0.wal"), []byte("wal"), 0o600))
	}
}

func (f *fixture) join(t *testing.T, zone string) (etcdstate.Join, bool) {
	t.Helper()
	j, ok, err := etcdstate.For(f.p).Join(f.member(t, zone).Name())
	must(t, err)
	return j, ok
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

package etcdcare

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

func put(rev int64, key, val string, lease int64) *mvccpb.Event {
	return &mvccpb.Event{Type: mvccpb.PUT, Kv: &mvccpb.KeyValue{Key: []byte(key), Value: []byte(val), ModRevision: rev, CreateRevision: rev, Version: 1, Lease: lease}}
}

func del(rev int64, key string) *mvccpb.Event {
	return &mvccpb.Event{Type: mvccpb.DELETE, Kv: &mvccpb.KeyValue{Key: []byte(key), ModRevision: rev}}
}

func TestBatchRoundTrip(t *testing.T) {
	for _, b := range []Batch{
		{},
		{First: 7, Last: 9, Events: []*mvccpb.Event{put(7, "/a", "1", 0), put(8, "/b", "2", 42), put(8, "/c", "", 0), del(9, "/a")}},
	} {
		data, err := b.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		var got Batch
		if err := got.UnmarshalBinary(data); err != nil {
			t.Fatalf("UnmarshalBinary: %v", err)
		}
		if got.First != b.First || got.Last != b.Last || len(got.Events) != len(b.Events) {
			t.Fatalf("round trip %+v -> %+v", b, got)
		}
		for i := range b.Events {
			w, _ := b.Events[i].Marshal()
			g, _ := got.Events[i].Marshal()
			if !bytes.Equal(g, w) {
				t.Errorf("event %d: %v, want %v", i, got.Events[i], b.Events[i])
			}
		}
	}
}

func TestBatchRejectsDamage(t *testing.T) {
	good, err := Batch{First: 3, Last: 4, Events: []*mvccpb.Event{put(3, "/a", "x", 0), del(4, "/a")}}.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte { d := bytes.Clone(good); d[i] ^= 1; return d }
	misordered, _ := Batch{First: 4, Last: 3, Events: []*mvccpb.Event{put(4, "/a", "x", 0), del(3, "/a")}}.MarshalBinary()
	mislabeled, _ := Batch{First: 2, Last: 4, Events: []*mvccpb.Event{put(3, "/a", "x", 0), del(4, "/a")}}.MarshalBinary()
	for name, data := range map[string][]byte{
		"empty":            nil,
		"truncated":        good[:len(good)-5],
		"magic":            flip(0),
		"version":          flip(4),
		"payload bit flip": flip(len(good) / 2),
		"checksum":         flip(len(good) - 1),
		"out of order":     misordered,
		"wrong first":      mislabeled,
	} {
		var b Batch
		if err := b.UnmarshalBinary(data); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: UnmarshalBinary = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestByRevision(t *testing.T) {
	evs := []*mvccpb.Event{put(5, "/a", "", 0), put(6, "/b", "", 0), del(6, "/c"), put(8, "/d", "", 0)}
	got := byRevision(evs)
	if len(got) != 3 || len(got[0]) != 1 || len(got[1]) != 2 || len(got[2]) != 1 {
		t.Fatalf("byRevision = %v", got)
	}
}

func TestPrefixOf(t *testing.T) {
	for key, want := range map[string]string{
		"/registry/configmaps/ns/cm":           "/registry/configmaps/ns",
		"/registry/configmaps/ns/cm/extra":     "/registry/configmaps/ns",
		"/registry/namespaces/default":         "/registry/namespaces/default",
		"/registry/ranges/serviceips":          "/registry/ranges/serviceips",
		"compact_rev_key":                      "compact_rev_key",
		"a/b/c/d":                              "a/b/c",
		"/cellplane.io/replay/source-revision": "/cellplane.io/replay/source-revision",
	} {
		if got := prefixOf(key); got != want {
			t.Errorf("prefixOf(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestTopN(t *testing.T) {
	sums := map[string]*PrefixUsage{"/a": {Prefix: "/a", Bytes: 1}, "/b": {Prefix: "/b", Bytes: 3}, "/c": {Prefix: "/c", Bytes: 3}}
	got := topN(sums, 2)
	if len(got) != 2 || got[0].Prefix != "/b" || got[1].Prefix != "/c" {
		t.Fatalf("topN = %+v", got)
	}
}

func TestPolicyNeeds(t *testing.T) {
	for _, tc := range []struct {
		name string
		pol  Policy
		m    Member
		want bool
	}{
		{"defaults, small", Policy{}, Member{DBSize: 10 << 20, DBSizeInUse: 1 << 20}, false},
		{"defaults, large and fragmented", Policy{}, Member{DBSize: 200 << 20, DBSizeInUse: 50 << 20}, true},
		{"defaults, large and compact", Policy{}, Member{DBSize: 200 << 20, DBSizeInUse: 150 << 20}, false},
		{"custom floor", Policy{MinDBSize: 1 << 20, MinFragmentation: 0.2}, Member{DBSize: 2 << 20, DBSizeInUse: 1 << 20}, true},
		{"every", Policy{every: true}, Member{DBSize: 1, DBSizeInUse: 1}, true},
	} {
		if got := tc.pol.Needs(tc.m); got != tc.want {
			t.Errorf("%s: Needs = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDefragOrderLeaderLast(t *testing.T) {
	c := Cluster{Members: []Member{{ID: 1, Name: "etcd-a", Leader: true}, {ID: 3, Name: "etcd-c"}, {ID: 2, Name: "etcd-b"}}}
	if got := defragOrder(c); !reflect.DeepEqual(got, []uint64{2, 3, 1}) {
		t.Fatalf("defragOrder = %v, want followers by name, then the leader", got)
	}
}

func statusOf(id, leader, term uint64) *clientv3.StatusResponse {
	return &clientv3.StatusResponse{Header: &pb.ResponseHeader{MemberId: id}, Leader: leader, RaftTerm: term}
}

func TestAssembleDecidesLeaderAndQuorum(t *testing.T) {
	list := []*pb.Member{
		{ID: 1, Name: "etcd-a", ClientURLs: []string{"http://a:2379"}},
		{ID: 2, Name: "etcd-b", ClientURLs: []string{"http://b:2379"}},
		{ID: 3, Name: "etcd-c", ClientURLs: []string{"http://c:2379"}},
	}
	down := errors.New("connection refused")
	for _, tc := range []struct {
		name     string
		probes   []probe
		leader   uint64
		quorum   bool
		badNames []string
	}{
		{"all agree", []probe{{"http://a:2379", statusOf(1, 2, 5), nil}, {"http://b:2379", statusOf(2, 2, 5), nil}, {"http://c:2379", statusOf(3, 2, 5), nil}}, 2, true, nil},
		{"one down", []probe{{"http://a:2379", statusOf(1, 2, 5), nil}, {"http://b:2379", statusOf(2, 2, 5), nil}, {"c:2379", nil, down}}, 2, true, []string{"etcd-c"}},
		{"stale follower", []probe{{"http://a:2379", statusOf(1, 1, 4), nil}, {"http://b:2379", statusOf(2, 2, 5), nil}, {"http://c:2379", statusOf(3, 2, 5), nil}}, 2, true, []string{"etcd-a"}},
		{"two down", []probe{{"http://a:2379", statusOf(1, 0, 5), nil}, {"http://b:2379", nil, down}, {"http://c:2379", nil, down}}, 0, false, []string{"etcd-a", "etcd-b", "etcd-c"}},
	} {
		c := assemble(list, tc.probes)
		var bad []string
		for _, m := range c.Members {
			if !m.Healthy() {
				bad = append(bad, m.Name)
			}
		}
		if c.LeaderID != tc.leader || c.Quorum != tc.quorum || !reflect.DeepEqual(bad, tc.badNames) {
			t.Errorf("%s: leader %d quorum %v unhealthy %v; want %d %v %v", tc.name, c.LeaderID, c.Quorum, bad, tc.leader, tc.quorum, tc.badNames)
		}
		if (c.unhealthy() == nil) != (tc.quorum && len(tc.badNames) == 0) {
			t.Errorf("%s: unhealthy() = %v", tc.name, c.unhealthy())
		}
	}
}

func TestQuorumWithout(t *testing.T) {
	healthy, down := Member{}, Member{Err: errors.New("down")}
	mk := func(ms ...Member) Cluster {
		for i := range ms {
			ms[i].ID = uint64(i + 1)
		}
		return Cluster{Members: ms}
	}
	if err := quorumWithout(mk(healthy, healthy, down), 3); err != nil {
		t.Errorf("removing the down member: %v", err)
	}
	if err := quorumWithout(mk(healthy, healthy, down), 1); !errors.Is(err, ErrWouldLoseQuorum) {
		t.Errorf("removing a healthy member while another is down: %v", err)
	}
	if err := quorumWithout(mk(healthy, healthy, healthy), 1); err != nil {
		t.Errorf("removing one of three healthy: %v", err)
	}
}

func TestDigestWriter(t *testing.T) {
	body := bytes.Repeat([]byte("snapshot"), 1000)
	sum := sha256.Sum256(body)
	stream := append(bytes.Clone(body), sum[:]...)
	for _, chunk := range []int{1, 7, 32, 4096, len(stream)} {
		var out bytes.Buffer
		d := &digestWriter{w: &out, h: sha256.New()}
		for i := 0; i < len(stream); i += chunk {
			if _, err := d.Write(stream[i:min(len(stream), i+chunk)]); err != nil {
				t.Fatal(err)
			}
		}
		if err := d.verify(); err != nil || !bytes.Equal(out.Bytes(), stream) {
			t.Errorf("chunk %d: verify %v, passed through %d of %d bytes", chunk, err, out.Len(), len(stream))
		}
	}
	d := &digestWriter{w: &bytes.Buffer{}, h: sha256.New()}
	_, _ = d.Write(append(bytes.Clone(body), make([]byte, sha256.Size)...))
	if err := d.verify(); !errors.Is(err, ErrCorrupt) {
		t.Errorf("wrong digest: verify = %v, want ErrCorrupt", err)
	}
}

func TestSwapDir(t *testing.T) {
	dir := t.TempDir()
	oldDir, newDir := filepath.Join(dir, "data"), filepath.Join(dir, "new")
	for d, content := range map[string]string{oldDir: "old", newDir: "new"} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "f"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := swapDir(newDir, oldDir); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(oldDir, "f")); string(b) != "new" {
		t.Fatalf("data holds %q after swap", b)
	}
	// Into a missing directory: a plain rename.
	if err := swapDir(oldDir, filepath.Join(dir, "fresh")); err != nil {
		t.Fatal(err)
	}
}

func TestRestoreRejectsBadInput(t *testing.T) {
	snap := filepath.Join(t.TempDir(), "s.db")
	if err := os.WriteFile(snap, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	m := RestoreMember{Name: "etcd-a", PeerURL: "http://127.0.0.1:2380", DataDir: filepath.Join(t.TempDir(), "a")}
	for name, cfg := range map[string]RestoreConfig{
		"no members":     {Etcdutl: "etcdutl", Snapshot: snap, Token: "t"},
		"missing file":   {Etcdutl: "etcdutl", Snapshot: snap + ".missing", Token: "t", Members: []RestoreMember{m}},
		"duplicate name": {Etcdutl: "etcdutl", Snapshot: snap, Token: "t", Members: []RestoreMember{m, m}},
		"negative bump":  {Etcdutl: "etcdutl", Snapshot: snap, Token: "t", Members: []RestoreMember{m}, BumpRevision: -1},
	} {
		if err := Restore(t.Context(), cfg); err == nil {
			t.Errorf("%s: Restore accepted it", name)
		}
	}
	if _, err := os.Stat(m.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("rejected restore created %s", m.DataDir)
	}
}

func TestInitialCluster(t *testing.T) {
	members := []*pb.Member{
		{ID: 1, Name: "etcd-a", PeerURLs: []string{"https://a:2380"}},
		{ID: 9, PeerURLs: []string{"https://c:2380"}},
	}
	if got := initialCluster(members, 9, "etcd-c"); got != "etcd-a=https://a:2380,etcd-c=https://c:2380" {
		t.Fatalf("initialCluster = %q", got)
	}
}

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{
		"https://10.0.0.1:2379": "10.0.0.1:2379",
		"http://a:2379":         "a:2379",
		"10.0.0.1:2379":         "10.0.0.1:2379",
	} {
		if got := hostPort(in); got != want {
			t.Errorf("hostPort(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTailerCutsBatchesBetweenRevisions(t *testing.T) {
	var got []Batch
	tl, err := NewTailer(TailerConfig{Client: &clientv3.Client{}, From: 4, MaxBatchBytes: 10,
		Flush: func(_ context.Context, b Batch) error { got = append(got, b); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	var evs []*clientv3.Event
	for _, ev := range []*mvccpb.Event{put(5, "/a", "0123456789", 0), put(5, "/b", "x", 0), put(6, "/c", "0123456789", 0), del(7, "/a")} {
		evs = append(evs, (*clientv3.Event)(ev))
	}
	if err := tl.receive(t.Context(), clientv3.WatchResponse{Events: evs}, true); err != nil {
		t.Fatal(err)
	}
	var spans [][2]int64
	for _, b := range got {
		spans = append(spans, [2]int64{b.First, b.Last})
	}
	if !reflect.DeepEqual(spans, [][2]int64{{5, 5}, {6, 6}, {7, 7}}) || len(got[0].Events) != 2 || tl.Flushed() != 7 {
		t.Fatalf("batches %v (flushed %d); want revision 5 whole, then 6, then 7", spans, tl.Flushed())
	}
}

package etcdcare

import (
	"context"
	"slices"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestCompactionAndDefragmentFollowersFirst(t *testing.T) {
	t.Parallel()
	c := startTestCluster(t, 2)
	ctx := testCtx(t, time.Minute)
	cli := c.client()

	// 8 MiB written and deleted: history holds it until compaction, and the
	// backend keeps the pages until defragmentation.
	fill(t, ctx, cli, "/registry/configmaps/ns/cm-", 4000, 2048)
	if _, err := cli.Delete(ctx, "/registry/configmaps/", clientv3.WithPrefix()); err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Put(ctx, "/tick", "x"); err != nil { // compaction keeps the delete
		t.Fatal(err)
	}
	h, err := ReadHistory(ctx, cli)
	if err != nil || h.Oldest != 1 || h.Current < 40 {
		t.Fatalf("ReadHistory before compaction = %+v, %v", h, err)
	}
	cr, err := CompactIfBehind(ctx, cli, CompactionPolicy{MaxHistory: h.Length() + 10}, nil)
	if err != nil || cr.CompactedTo != 0 {
		t.Fatalf("CompactIfBehind within policy = %+v, %v; want nothing done", cr, err)
	}
	cr, err = CompactIfBehind(ctx, cli, CompactionPolicy{MaxHistory: 10, Retain: 1}, nil)
	if err != nil || cr.CompactedTo != h.Current-1 {
		t.Fatalf("CompactIfBehind = %+v, %v; want compaction to %d", cr, err, h.Current-1)
	}
	if h2, err := ReadHistory(ctx, cli); err != nil || h2.Oldest != h.Current-1 {
		t.Fatalf("ReadHistory after compaction = %+v, %v; want oldest %d", h2, err, h.Current-1)
	}

	// Compaction's freed pages count as in use until later write transactions
	// release them: write a little until every member reports the space free.
	var before Cluster
	err = poll(ctx, 100*time.Millisecond, 20*time.Second, func(ctx context.Context) (bool, error) {
		if _, err := cli.Put(ctx, "/tick", "x"); err != nil {
			return false, err
		}
		before = c.waitHealthy()
		return !slices.ContainsFunc(before.Members, func(m Member) bool { return m.Fragmentation() < 0.5 }), nil
	})
	if err != nil {
		t.Fatalf("fragmentation never showed: %v", err)
	}
	leader, _ := before.Leader()
	for _, m := range before.Members {
		t.Logf("%s leader=%v dbSize=%d inUse=%d fragmentation=%.2f", m.Name, m.Leader, m.DBSize, m.DBSizeInUse, m.Fragmentation())
	}
	pol := Policy{MinDBSize: 1 << 20, MinFragmentation: 0.3, SettleTimeout: 20 * time.Second}
	r, err := Defragment(ctx, cli, c.endpoints(), pol, nil)
	if err != nil {
		t.Fatalf("Defragment: %v", err)
	}
	if len(r.Steps) != 3 {
		t.Fatalf("Defragment report %+v: want 3 steps", r)
	}
	for i, s := range r.Steps {
		t.Logf("step %d: %s leaderAtDefrag=%x movedLeaderTo=%x dbSize %d -> %d in %s", i, s.Member, s.LeaderAtDefrag, s.MovedLeaderTo, s.Before.DBSize, s.After.DBSize, s.Took)
		if s.LeaderAtDefrag == s.ID || s.LeaderAtDefrag == 0 {
			t.Errorf("%s defragmented while leader %x", s.Member, s.LeaderAtDefrag)
		}
		if s.After.DBSize >= s.Before.DBSize {
			t.Errorf("%s: dbSize %d -> %d, want smaller", s.Member, s.Before.DBSize, s.After.DBSize)
		}
		last := i == len(r.Steps)-1
		if last != (s.ID == leader.ID) || last != (s.MovedLeaderTo != 0) {
			t.Errorf("step %d (%s): leader %s must come last, after moving leadership", i, s.Member, leader.Name)
		}
	}
	after := c.waitHealthy()
	if after.LeaderID == leader.ID {
		t.Errorf("leadership still with %s", leader.Name)
	}
	// Nothing left to do: a second run skips every member.
	r, err = Defragment(ctx, cli, c.endpoints(), pol, nil)
	if err != nil || len(r.Steps) != 0 || len(r.Skipped) != 3 {
		t.Fatalf("second Defragment = %+v, %v; want every member skipped", r, err)
	}
}

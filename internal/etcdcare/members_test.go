package etcdcare

import (
	"errors"
	"os"
	"testing"
	"time"
)

func TestReplaceMember(t *testing.T) {
	t.Parallel()
	c := startTestCluster(t, 7)
	ctx := testCtx(t, 90*time.Second)
	cli := c.client()
	st := c.waitHealthy()
	if _, err := cli.Put(ctx, "/registry/configmaps/ns/before", "x"); err != nil {
		t.Fatal(err)
	}

	// A follower crashes and its data is lost.
	f := 0
	for f < len(st.Members) && st.Members[f].Leader {
		f++
	}
	gone, other := st.Members[f], st.Members[(f+1)%3]
	c.kill(f)
	if err := RemoveMember(ctx, cli, c.endpoints(), other.ID, nil); !errors.Is(err, ErrWouldLoseQuorum) {
		t.Fatalf("removing healthy %s while %s is down = %v, want ErrWouldLoseQuorum", other.Name, gone.Name, err)
	}
	for range 2 { // the second time it is already gone
		if err := RemoveMember(ctx, cli, c.endpoints(), gone.ID, nil); err != nil {
			t.Fatalf("RemoveMember(%s): %v", gone.Name, err)
		}
	}
	if err := os.RemoveAll(c.members[f].dataDir); err != nil {
		t.Fatal(err)
	}

	// It comes back as a learner, catches up, and is promoted.
	m := c.members[f]
	join, err := AddLearner(ctx, cli, m.name, m.peerURL(), nil)
	if err != nil {
		t.Fatalf("AddLearner: %v", err)
	}
	if again, err := AddLearner(ctx, cli, m.name, m.peerURL(), nil); err != nil || again != join {
		t.Fatalf("AddLearner retry = %+v, %v; want %+v", again, err, join)
	}
	t.Logf("learner %x joins with --initial-cluster=%s", join.ID, join.InitialCluster)
	c.start(f, "existing", join.InitialCluster)
	if err := PromoteLearner(ctx, cli, join.ID, 30*time.Second, nil); err != nil {
		t.Fatalf("PromoteLearner: %v", err)
	}
	if err := PromoteLearner(ctx, cli, join.ID, time.Second, nil); err != nil {
		t.Fatalf("PromoteLearner on a voter: %v", err)
	}
	st = c.waitHealthy()
	back, ok := st.Member(join.ID)
	if !ok || back.Learner || back.Name != m.name || len(st.Members) != 3 {
		t.Fatalf("after replacement: %+v", st.Members)
	}
	if _, err := cli.Put(ctx, "/registry/configmaps/ns/after", "x"); err != nil {
		t.Fatal(err)
	}
}

func TestMoveLeader(t *testing.T) {
	t.Parallel()
	c := startTestCluster(t, 19)
	ctx := testCtx(t, 60*time.Second)
	cli := c.client()
	st := c.waitHealthy()
	var to Member
	for _, m := range st.Members {
		if !m.Leader {
			to = m
			break
		}
	}
	if err := MoveLeader(ctx, cli, c.endpoints(), st, to.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	after, err := Status(ctx, cli, c.endpoints())
	if err != nil || after.LeaderID != to.ID {
		t.Fatalf("leader after MoveLeader = %x (%v), want %s (%x)", after.LeaderID, err, to.Name, to.ID)
	}
	// Already there: nothing to do.
	if err := MoveLeader(ctx, cli, c.endpoints(), after, to.ID, 10*time.Second); err != nil {
		t.Errorf("MoveLeader to the leader itself: %v", err)
	}
}

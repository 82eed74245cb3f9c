package etcdcare

import (
	"errors"
	"testing"
	"time"
)

func TestStatusAndRefuseDefragWhenMemberDown(t *testing.T) {
	t.Parallel()
	c := startTestCluster(t, 1)
	ctx := testCtx(t, time.Minute)
	st, err := Status(ctx, c.client(), c.endpoints())
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if !st.Healthy() || !st.Quorum || len(st.Members) != 3 {
		t.Fatalf("want 3 healthy members with quorum, got %+v", st)
	}
	leaders := 0
	for i, m := range st.Members {
		if m.Name != c.members[i].name || m.Endpoint != c.members[i].clientURL() || m.ID == 0 {
			t.Errorf("member %d = %s at %s, want %s at %s", i, m.Name, m.Endpoint, c.members[i].name, c.members[i].clientURL())
		}
		if m.Leader {
			leaders++
		}
		if m.LeaderID != st.LeaderID || m.DBSize == 0 || m.RaftTerm == 0 || m.RaftIndex == 0 || m.Quota == 0 {
			t.Errorf("member %s: incomplete report %+v", m.Name, m)
		}
	}
	if leaders != 1 {
		t.Fatalf("%d members report leading", leaders)
	}
	leader, _ := st.Leader()
	t.Logf("leader %s, term %d", leader.Name, leader.RaftTerm)

	// Stop a follower: the cluster keeps quorum, the member is reported down, and
	// defragmentation refuses to start.
	down := 0
	for i, m := range st.Members {
		if !m.Leader {
			down = i
			break
		}
	}
	c.kill(down)
	st, err = Status(ctx, c.client(), c.endpoints())
	if err != nil {
		t.Fatalf("Status with a member down: %v", err)
	}
	if !st.Quorum || st.Members[down].Healthy() || st.Healthy() {
		t.Fatalf("with %s down: quorum %v, member err %v, healthy %v", c.members[down].name, st.Quorum, st.Members[down].Err, st.Healthy())
	}
	t.Logf("down member: %v", st.Members[down].Err)
	r, err := Defragment(ctx, c.client(), c.endpoints(), Policy{MinDBSize: 1, MinFragmentation: 0.0001}, nil)
	if !errors.Is(err, ErrUnhealthy) || len(r.Steps) != 0 {
		t.Fatalf("Defragment with a member down = %+v, %v; want ErrUnhealthy and no steps", r, err)
	}
}

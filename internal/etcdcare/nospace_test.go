package etcdcare

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/cellplane/cellplane/internal/errdefs"
)

const testQuota = 32 << 20

// fillUntilNoSpace writes 100 KB values (to one key, or to fresh keys under
// prefix when distinct) until etcd refuses with NOSPACE, then waits for the alarm.
func fillUntilNoSpace(t *testing.T, ctx context.Context, c *testCluster, key string, distinct bool) {
	t.Helper()
	cli := c.client()
	val := strings.Repeat("v", 100<<10)
	for i := 0; ; i++ {
		if i > 2*testQuota/len(val) {
			t.Fatalf("no NOSPACE after %d writes of %d bytes", i, len(val))
		}
		k := key
		if distinct {
			k = fmt.Sprintf("%s%04d", key, i)
		}
		_, err := cli.Put(ctx, k, val)
		if errors.Is(err, rpctypes.ErrNoSpace) {
			break
		}
		if err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
	}
	err := poll(ctx, 100*time.Millisecond, 10*time.Second, func(ctx context.Context) (bool, error) {
		st, err := Status(ctx, cli, c.endpoints())
		return st.HasAlarm(pb.AlarmType_NOSPACE), err
	})
	if err != nil {
		t.Fatalf("no NOSPACE alarm: %v", err)
	}
}

func TestRecoverNoSpace(t *testing.T) {
	t.Parallel()
	c := startTestCluster(t, 3, withQuota(testQuota))
	ctx := testCtx(t, 90*time.Second)
	cli := c.client()
	pol := Policy{SettleTimeout: 20 * time.Second}

	if r, err := RecoverNoSpace(ctx, cli, c.endpoints(), pol, nil); err != nil || r.Alarmed {
		t.Fatalf("RecoverNoSpace without alarm = %+v, %v; want nothing done", r, err)
	}

	// History of one key fills the quota: compaction and defragmentation free it.
	fillUntilNoSpace(t, ctx, c, "/registry/leases/kube-system/hot", false)
	st, _ := Status(ctx, cli, c.endpoints())
	if st.QuotaUsage() < 0.9 {
		t.Errorf("QuotaUsage under alarm = %.2f, want near 1", st.QuotaUsage())
	}
	r, err := RecoverNoSpace(ctx, cli, c.endpoints(), pol, nil)
	if err != nil {
		t.Fatalf("RecoverNoSpace: %v", err)
	}
	t.Logf("recovered: compacted to %d, %d members defragmented, disarmed %d, live %d of %d bytes, dbSize %d",
		r.CompactedTo, len(r.Defrag.Steps), len(r.Disarmed), r.LiveBytes, r.Quota, r.DBSize)
	if !r.Alarmed || r.CompactedTo == 0 || len(r.Defrag.Steps) != 3 || len(r.Disarmed) == 0 || r.Quota != testQuota {
		t.Fatalf("RecoverNoSpace report %+v", r)
	}
	st = c.waitHealthy()
	if st.HasAlarm(pb.AlarmType_NOSPACE) {
		t.Fatal("NOSPACE alarm still raised")
	}
	if _, err := cli.Put(ctx, "/registry/leases/kube-system/hot", "after"); err != nil {
		t.Fatalf("write after recovery: %v", err)
	}
	if resp, err := cli.Get(ctx, ProbePrefix, clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil || resp.Count != 0 {
		t.Fatalf("probe keys left behind: %v, %v", resp, err)
	}

	// Live data fills the quota: recovery cannot help, and says what to delete. The
	// first alarm may come while free pages still make up part of the backend, so
	// recovery may succeed once; writing on fills it with live data for certain.
	var over *OverQuotaError
	for round := 0; ; round++ {
		if round == 3 {
			t.Fatalf("RecoverNoSpace never reported live data over quota: last %v", err)
		}
		fillUntilNoSpace(t, ctx, c, fmt.Sprintf("/registry/configmaps/big/cm-%d-", round), true)
		if _, err := cli.Put(ctx, "/registry/secrets/small/s", "x"); !errors.Is(err, rpctypes.ErrNoSpace) {
			t.Fatalf("write under alarm: %v, want NOSPACE", err)
		}
		r, err = RecoverNoSpace(ctx, cli, c.endpoints(), pol, nil)
		t.Logf("round %d: live %d of %d bytes: %v", round, r.LiveBytes, r.Quota, err)
		if errors.As(err, &over) {
			break
		}
		if err != nil {
			t.Fatalf("RecoverNoSpace: %v", err)
		}
	}
	if !errors.Is(err, ErrLiveDataOverQuota) || !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Fatalf("RecoverNoSpace with live data over quota = %v; want ErrLiveDataOverQuota", err)
	}
	t.Logf("over quota: %v", err)
	if len(over.Top) == 0 || over.Top[0].Prefix != "/registry/configmaps/big" || over.Top[0].Keys < 200 {
		t.Fatalf("top prefixes %+v; want /registry/configmaps/big first", over.Top)
	}
	if float64(over.LiveBytes) <= LiveDataLimit*float64(over.Quota) {
		t.Fatalf("live %d of quota %d is not over the limit", over.LiveBytes, over.Quota)
	}
}

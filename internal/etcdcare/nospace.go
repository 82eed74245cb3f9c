package etcdcare

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"strings"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// LiveDataLimit is the share of the quota live data may fill after compaction and
// defragmentation before RecoverNoSpace asks for data to be deleted: above it the
// alarm would be back within minutes of normal churn.
const LiveDataLimit = 0.9

// topPrefixCount is how many prefixes an OverQuotaError names.
const topPrefixCount = 10

// NoSpaceReport says what RecoverNoSpace found and did.
type NoSpaceReport struct {
	Alarmed     bool  // a NOSPACE alarm was raised when recovery began
	CompactedTo int64 // the revision compacted to (0: no alarm)
	Defrag      Report
	Disarmed    []uint64 // members whose NOSPACE alarm was disarmed
	Quota       int64
	LiveBytes   int64 // the highest dbSizeInUse after recovery
	DBSize      int64 // the highest dbSize after recovery
	ProbeKey    string
}

// OverQuotaError is returned, wrapping ErrLiveDataOverQuota, when live data alone
// fills more than LiveDataLimit of the quota. Top says where the data is.
type OverQuotaError struct {
	LiveBytes, Quota int64
	Top              []PrefixUsage
}

func (e *OverQuotaError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %d of %d bytes live after compaction and defragmentation; largest prefixes:", ErrLiveDataOverQuota, e.LiveBytes, e.Quota)
	for _, p := range e.Top {
		fmt.Fprintf(&b, " %s (%d keys, %d bytes)", p.Prefix, p.Keys, p.Bytes)
	}
	return b.String()
}

func (e *OverQuotaError) Unwrap() error { return ErrLiveDataOverQuota }

// RecoverNoSpace clears a NOSPACE alarm: it compacts at the current revision,
// defragments every member (the leader last, after moving leadership), disarms the
// alarm once every member's backend is under the quota again, and proves a write
// works. Without an alarm it does nothing. If live data alone is above
// LiveDataLimit of the quota it still recovers what it can, then returns an
// *OverQuotaError naming the largest prefixes: only deleting data helps then.
// Each step re-reads status, so an interrupted recovery is finished by running it
// again.
func RecoverNoSpace(ctx context.Context, cli *clientv3.Client, endpoints []string, pol Policy, log *slog.Logger) (NoSpaceReport, error) {
	log = logOrDiscard(log)
	eps := endpointsOf(cli, endpoints)
	var r NoSpaceReport
	c, err := Status(ctx, cli, eps)
	if err == nil {
		err = c.unhealthy()
	}
	if err != nil {
		return r, fmt.Errorf("before NOSPACE recovery: %w", err)
	}
	if r.Alarmed = c.HasAlarm(pb.AlarmType_NOSPACE); !r.Alarmed {
		return r, nil
	}
	log.Warn("recovering etcd from NOSPACE", "quotaUsage", c.QuotaUsage())
	if r.CompactedTo, err = compactNow(ctx, cli); err != nil {
		return r, err
	}
	// Every member, whatever its reported fragmentation: the pages compaction just
	// freed count as in use until a later write transaction releases them
	// (backend.go stores sizeInUse from bolt's FreePageN, which excludes pending
	// pages), and under the alarm there may be no such write.
	pol.every = true
	if r.Defrag, err = Defragment(ctx, cli, eps, pol, log); err != nil {
		return r, err
	}
	return r, r.finish(ctx, cli, eps, log)
}

// finish disarms, probes and judges live data against the quota.
func (r *NoSpaceReport) finish(ctx context.Context, cli *clientv3.Client, eps []string, log *slog.Logger) error {
	c, err := Status(ctx, cli, eps)
	if err != nil {
		return fmt.Errorf("after defragmentation: %w", err)
	}
	r.measure(c)
	// Disarming while a backend is still over the quota only lets the next write
	// raise the alarm again.
	if r.DBSize < r.Quota {
		if err := r.disarm(ctx, cli, c); err != nil {
			return err
		}
		if r.ProbeKey, err = probeWrite(ctx, cli); err != nil {
			return err
		}
		log.Info("etcd NOSPACE alarm cleared", "liveBytes", r.LiveBytes, "quota", r.Quota)
	}
	if float64(r.LiveBytes) <= LiveDataLimit*float64(r.Quota) {
		return nil
	}
	top, err := TopPrefixes(ctx, cli, topPrefixCount)
	if err != nil {
		return fmt.Errorf("live data over quota; finding the largest prefixes: %w", err)
	}
	return &OverQuotaError{LiveBytes: r.LiveBytes, Quota: r.Quota, Top: top}
}

func (r *NoSpaceReport) measure(c Cluster) {
	for _, m := range c.Members {
		r.Quota = max(r.Quota, m.Quota)
		r.LiveBytes = max(r.LiveBytes, m.DBSizeInUse)
		r.DBSize = max(r.DBSize, m.DBSize)
	}
}

func (r *NoSpaceReport) disarm(ctx context.Context, cli *clientv3.Client, c Cluster) error {
	for _, a := range c.Alarms {
		if a.Type != pb.AlarmType_NOSPACE {
			continue
		}
		if _, err := cli.AlarmDisarm(ctx, &clientv3.AlarmMember{MemberID: a.MemberID, Alarm: a.Type}); err != nil {
			return fmt.Errorf("disarming NOSPACE on member %x: %w", a.MemberID, err)
		}
		r.Disarmed = append(r.Disarmed, a.MemberID)
	}
	return nil
}

// compactNow compacts at the current revision: under NOSPACE no history is worth
// the space, and watchers that fall behind relist.
func compactNow(ctx context.Context, cli *clientv3.Client) (int64, error) {
	resp, err := cli.Get(ctx, healthKey, clientv3.WithKeysOnly())
	if err != nil {
		return 0, fmt.Errorf("reading current revision: %w", err)
	}
	rev := resp.Header.Revision
	return rev, compact(ctx, cli, rev)
}

// probeWrite proves the cluster takes writes: a put and a delete of a fresh key
// under ProbePrefix.
func probeWrite(ctx context.Context, cli *clientv3.Client) (string, error) {
	key := ProbePrefix + rand.Text()
	if _, err := cli.Put(ctx, key, "probe"); err != nil {
		return key, fmt.Errorf("probe write: %w", err)
	}
	if _, err := cli.Delete(ctx, key); err != nil {
		return key, fmt.Errorf("deleting probe key: %w", err)
	}
	return key, nil
}

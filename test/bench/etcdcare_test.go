package bench

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/etcdcare"
	"github.com/cellplane/cellplane/test/framework"
)

// The etcd care benchmarks run real three-member etcd clusters, each member on its
// own loopback address 127.232.<subnet>.<1..3>, plain http. Every cluster takes a
// distinct subnet, so a restored cluster never meets a leftover of its source.
//
// They run once (-benchtime 1x): each step takes seconds to minutes, and b.N
// iterations of a 300 MB fill would measure the fill.

const (
	careFillKeys    = 240_000         // ~1.27 KB of backend each: ~300 MB
	careFillBudget  = 6 * time.Minute // the fill stops here, short of careFillKeys if need be
	careRPOWritesPS = 50
	careRPOFor      = 30 * time.Second
	careNoSpace     = 32 << 20
)

// BenchmarkEtcdCareBackup measures, on one ~300 MB database: a full backup
// through the catalog against `etcdctl snapshot save`, the recovery point the
// tailer keeps under steady writes, and a restore from the catalog's full.
func BenchmarkEtcdCareBackup(b *testing.B) {
	ctx := benchCtx(b, 25*time.Minute)
	src := startEtcdCluster(b, ctx, 1, 0)
	begin := time.Now()
	keys := fillRealistic(b, ctx, src.client(), careFillKeys, careFillBudget)
	st, err := etcdcare.Status(ctx, src.client(), src.endpoints())
	if err != nil {
		b.Fatalf("status after fill: %v", err)
	}
	b.ReportMetric(mb(maxDBSize(st)), "db-MB")
	b.Logf("filled %d keys in %.1fs; backend %.1f MB (in use %.1f MB)",
		keys, time.Since(begin).Seconds(), mb(maxDBSize(st)), mb(st.Members[0].DBSizeInUse))

	set := newBenchSet(b)
	full, plainBytes := measureFullBackup(b, ctx, src, st, set)
	measureRecoveryPoint(b, ctx, src, set)
	src.stopAll()
	measureRestore(b, ctx, set, full, plainBytes, keys)
}

// BenchmarkEtcdCareNoSpace measures how long RecoverNoSpace takes to make a
// cluster writable again after history of one key filled a 32 MiB quota. The
// target is under 60 s.
func BenchmarkEtcdCareNoSpace(b *testing.B) {
	ctx := benchCtx(b, 5*time.Minute)
	c := startEtcdCluster(b, ctx, 3, careNoSpace)
	cli := c.client()
	key := "/registry/leases/kube-system/hot"
	refused := fillUntilNoSpace(b, ctx, c, key)
	if err := waitNoSpaceAlarm(ctx, c); err != nil {
		b.Fatal(err)
	}
	begin := time.Now()
	r, err := etcdcare.RecoverNoSpace(ctx, cli, c.endpoints(), etcdcare.Policy{}, nil)
	recovered := time.Since(begin)
	if err != nil {
		b.Fatalf("RecoverNoSpace: %v", err)
	}
	err = framework.Eventually(ctx, 2*time.Minute, 50*time.Millisecond, func() error {
		_, err := cli.Put(ctx, key, "after")
		return err
	})
	if err != nil {
		b.Fatalf("no write after recovery: %v", err)
	}
	writable := time.Since(begin)
	b.ReportMetric(writable.Seconds(), "nospace-to-writable-s")
	b.Logf("NOSPACE: RecoverNoSpace %.2fs, writable after %.2fs (%.2fs after the first refused put); "+
		"compacted to %d, %d members defragmented, live %d of %d bytes; target < 60s",
		recovered.Seconds(), writable.Seconds(), time.Since(refused).Seconds(),
		r.CompactedTo, len(r.Defrag.Steps), r.LiveBytes, r.Quota)
	for _, s := range r.Defrag.Steps {
		b.Logf("NOSPACE: defragmented %s in %.2fs (leadership moved to %x first: %v)",
			s.Member, s.Took.Seconds(), s.MovedLeaderTo, s.MovedLeaderTo != 0)
	}
}

func benchCtx(b *testing.B, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	b.Cleanup(cancel)
	return ctx
}

func mb(n int64) float64 { return float64(n) / 1e6 }

func maxDBSize(c etcdcare.Cluster) int64 {
	var n int64
	for _, m := range c.Members {
		n = max(n, m.DBSize)
	}
	return n
}

// newBenchSet is a catalog in a local directory, sealed by a local KMS: the same
// code as an S3 catalog except the upload.
func newBenchSet(b *testing.B) *backup.Set {
	dir := b.TempDir()
	store, err := objstore.NewDir(filepath.Join(dir, "store"))
	if err != nil {
		b.Fatal(err)
	}
	kms, err := envelope.NewLocalKMS(filepath.Join(dir, "kms", "kek"))
	if err != nil {
		b.Fatal(err)
	}
	set := backup.New(store, kms, backup.Ref{Namespace: "bench", Name: "care", UID: "care-1"})
	set.TempDir = dir
	return set
}

// measureFullBackup times `etcdctl snapshot save` and then PutFull on the same
// data, both from a follower, and returns the stored full and its plain size.
func measureFullBackup(b *testing.B, ctx context.Context, src *etcdCluster, st etcdcare.Cluster, set *backup.Set) (backup.Entry, int64) {
	ctlFile := filepath.Join(b.TempDir(), "etcdctl.db")
	begin := time.Now()
	if err := etcdctlSave(ctx, follower(st), ctlFile); err != nil {
		b.Fatal(err)
	}
	ctlTook := time.Since(begin)
	fi, err := os.Stat(ctlFile)
	if err != nil {
		b.Fatal(err)
	}
	_ = os.Remove(ctlFile) // spare the disk and the page cache for the next steps

	cli := src.newClient(b)
	var streamed int64
	var streamTook time.Duration
	begin = time.Now()
	full, err := set.PutFull(ctx, func(w io.Writer) (int64, error) {
		cw := &countingWriter{w: w}
		rev, err := etcdcare.Snapshot(ctx, cli, cw)
		streamed, streamTook = cw.n, time.Since(begin)
		return rev, err
	})
	cpTook := time.Since(begin)
	if err != nil {
		b.Fatalf("PutFull: %v", err)
	}
	ctlRate, cpRate := mb(fi.Size())/ctlTook.Seconds(), mb(streamed)/cpTook.Seconds()
	b.ReportMetric(ctlRate, "etcdctl-MB/s")
	b.ReportMetric(cpRate, "cellplane-MB/s")
	b.ReportMetric(cpRate/ctlRate, "cellplane/etcdctl")
	b.ReportMetric(mb(full.Size), "stored-MB")
	b.Logf("full backup: etcdctl snapshot save %.1f MB in %.2fs = %.1f MB/s", mb(fi.Size()), ctlTook.Seconds(), ctlRate)
	b.Logf("full backup: cellplane PutFull %.1f MB in %.2fs = %.1f MB/s (snapshot+zstd+AES-GCM spool %.2fs, then store and read-back check); ratio %.2f",
		mb(streamed), cpTook.Seconds(), cpRate, streamTook.Seconds(), cpRate/ctlRate)
	b.Logf("full backup: stored %.1f MB (%.1f%% of plain), revision %d", mb(full.Size), 100*float64(full.Size)/float64(streamed), full.Revision)
	return full, streamed
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// follower is the endpoint of a healthy follower, the kind of member
// etcdcare.Snapshot reads from, so both tools read the same way.
func follower(st etcdcare.Cluster) string {
	for _, m := range st.Members {
		if m.Healthy() && !m.Leader && m.Endpoint != "" {
			return m.Endpoint
		}
	}
	return st.Members[0].Endpoint
}

func etcdctlSave(ctx context.Context, endpoint, path string) error {
	// --command-timeout bounds the whole stream; its 5 s default would cut it.
	cmd := exec.CommandContext(ctx, bins.Etcd.Etcdctl, "--endpoints="+endpoint,
		"--dial-timeout=5s", "--command-timeout=10m", "snapshot", "save", path)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("etcdctl snapshot save: %w: %s", err, out)
	}
	return nil
}

// measureRecoveryPoint runs the tailer into the catalog while a writer puts
// careRPOWritesPS keys a second, and reports how long each acknowledged write
// waited until a stored incremental covered its revision.
func measureRecoveryPoint(b *testing.B, ctx context.Context, src *etcdCluster, set *backup.Set) {
	cli := src.newClient(b)
	head, err := cli.Get(ctx, "/cellplane.io/bench-revision", clientv3.WithCountOnly())
	if err != nil {
		b.Fatal(err)
	}
	var cov coverage
	tailer, err := etcdcare.NewTailer(etcdcare.TailerConfig{
		Client: cli, From: head.Header.Revision,
		Flush: func(ctx context.Context, batch etcdcare.Batch) error {
			data, err := batch.MarshalBinary()
			if err != nil {
				return err
			}
			begin := time.Now()
			e, err := set.PutIncremental(ctx, batch.First, batch.Last, begin, data)
			if err == nil {
				cov.add(e.Revision, time.Since(begin))
			}
			return err
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	tctx, cancel := context.WithCancel(ctx)
	tailed := make(chan error, 1)
	go func() { tailed <- tailer.Run(tctx) }()
	puts, failed := steadyWrites(ctx, src.client())
	var last int64
	if len(puts) > 0 {
		last = puts[len(puts)-1].rev
	}
	err = framework.Eventually(ctx, 20*time.Second, 50*time.Millisecond, func() error {
		if tailer.Flushed() < last {
			return fmt.Errorf("tailer flushed %d of %d", tailer.Flushed(), last)
		}
		return nil
	})
	cancel()
	if terr := <-tailed; !errors.Is(terr, context.Canceled) {
		b.Fatalf("tailer: %v", terr)
	}
	if err != nil {
		b.Fatal(err)
	}
	reportRecoveryPoint(b, cov.lags(puts), failed)
	b.Logf("recovery point: %s", cov.summary())
}

type putAt struct {
	rev int64
	at  time.Time // when the put was acknowledged
}

// steadyWrites puts one key every 1/careRPOWritesPS s for careRPOFor and returns
// the acknowledged puts in order and how many failed.
func steadyWrites(ctx context.Context, cli *clientv3.Client) ([]putAt, int) {
	tick := time.NewTicker(time.Second / careRPOWritesPS)
	defer tick.Stop()
	end := time.Now().Add(careRPOFor)
	var puts []putAt
	failed := 0
	for i := 0; time.Now().Before(end) && ctx.Err() == nil; i++ {
		<-tick.C
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		resp, err := cli.Put(pctx, fmt.Sprintf("/registry/leases/bench/lease-%03d", i%100), fmt.Sprintf("renew-%d", i))
		cancel()
		if err != nil {
			failed++
			continue
		}
		puts = append(puts, putAt{rev: resp.Header.Revision, at: time.Now()})
	}
	return puts, failed
}

// coverage records when each stored incremental's manifest was written, and
// how long storing it took.
type coverage struct {
	mu    sync.Mutex
	revs  []int64
	at    []time.Time
	store []time.Duration
}

func (c *coverage) add(rev int64, took time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.revs = append(c.revs, rev)
	c.at = append(c.at, time.Now())
	c.store = append(c.store, took)
}

// summary says where the time went: the flush interval, or storing.
func (c *coverage) summary() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var gap time.Duration
	for i := 1; i < len(c.at); i++ {
		gap = max(gap, c.at[i].Sub(c.at[i-1]))
	}
	return fmt.Sprintf("%d incrementals stored, longest PutIncremental %.2fs, longest gap between stored incrementals %.2fs",
		len(c.revs), slices.Max(append(c.store, 0)).Seconds(), gap.Seconds())
}

// lags is, for every put, the time from its acknowledgement to the first stored
// incremental that reaches its revision.
func (c *coverage) lags(puts []putAt) []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []time.Duration
	for _, p := range puts {
		i := slices.IndexFunc(c.revs, func(r int64) bool { return r >= p.rev })
		if i >= 0 {
			out = append(out, c.at[i].Sub(p.at))
		}
	}
	slices.Sort(out)
	return out
}

func reportRecoveryPoint(b *testing.B, lags []time.Duration, failed int) {
	if len(lags) == 0 {
		b.Fatal("no write was covered by an incremental")
	}
	q := func(p float64) time.Duration { return lags[min(len(lags)-1, int(p*float64(len(lags))))] }
	b.ReportMetric(q(0.5).Seconds(), "rpo-p50-s")
	b.ReportMetric(q(0.99).Seconds(), "rpo-p99-s")
	b.ReportMetric(lags[len(lags)-1].Seconds(), "rpo-max-s")
	b.Logf("recovery point: %d writes covered (%d failed) at %d/s for %s; write ack to stored incremental p50 %.2fs p99 %.2fs max %.2fs",
		len(lags), failed, careRPOWritesPS, careRPOFor, q(0.5).Seconds(), q(0.99).Seconds(), lags[len(lags)-1].Seconds())
}

// measureRestore decrypts the catalog's full to a plain snapshot, restores it
// into three fresh data directories and starts a cluster on them.
func measureRestore(b *testing.B, ctx context.Context, set *backup.Set, full backup.Entry, plainBytes int64, keys int) {
	dst := newEtcdCluster(b, 2, 0)
	plain := filepath.Join(dst.dir, "restore.db")
	begin := time.Now()
	if err := decryptFull(ctx, set, full, plain); err != nil {
		b.Fatal(err)
	}
	decrypted := time.Since(begin)
	cfg := etcdcare.RestoreConfig{Etcdutl: bins.Etcd.Etcdutl, Snapshot: plain, Token: dst.token}
	for _, m := range dst.members {
		cfg.Members = append(cfg.Members, etcdcare.RestoreMember{Name: m.name, PeerURL: m.peerURL(), DataDir: m.dataDir})
	}
	begin = time.Now()
	if err := etcdcare.Restore(ctx, cfg); err != nil {
		b.Fatalf("Restore: %v", err)
	}
	restored := time.Since(begin)
	begin = time.Now()
	if err := dst.start(ctx); err != nil {
		b.Fatal(err)
	}
	started := time.Since(begin)
	b.ReportMetric(decrypted.Seconds(), "decrypt-s")
	b.ReportMetric(restored.Seconds(), "restore-s")
	b.ReportMetric(started.Seconds(), "restart-s")
	b.Logf("restore: decrypt %.1f MB full %.2fs (%.1f MB/s), etcdutl restore x3 %.2fs, start until healthy %.2fs, total %.2fs",
		mb(plainBytes), decrypted.Seconds(), mb(plainBytes)/decrypted.Seconds(), restored.Seconds(), started.Seconds(),
		(decrypted + restored + started).Seconds())
	resp, err := dst.client().Get(ctx, "/registry/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || resp.Count != int64(keys) {
		b.Fatalf("restored cluster holds %v keys (%v), want %d", resp, err, keys)
	}
	b.Logf("restore: %d keys back, revision %d", resp.Count, resp.Header.Revision)
}

// decryptFull writes the full's plain snapshot to path: the first step of
// every restore from the catalog.
func decryptFull(ctx context.Context, set *backup.Set, full backup.Entry, path string) error {
	rc, err := set.Open(ctx, full)
	if err != nil {
		return fmt.Errorf("opening full: %w", err)
	}
	defer rc.Close()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("decrypting full: %w", err)
	}
	return nil
}

// fillRealistic writes up to n keys of about 1 KB, shaped like ConfigMaps with
// a random payload (compressible about twofold, like real objects), 100 to a
// transaction from four writers, and stops early after budget. It returns how
// many keys it wrote.
func fillRealistic(b *testing.B, ctx context.Context, cli *clientv3.Client, n int, budget time.Duration) int {
	fctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	const writers, perTxn = 4, 100
	counts := make([]int, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			counts[w], errs[w] = fillRange(fctx, cli, w, writers, n, perTxn)
		}()
	}
	wg.Wait()
	total := 0
	for w := range writers {
		total += counts[w]
		if errs[w] != nil && fctx.Err() == nil {
			b.Fatalf("fill: %v", errs[w])
		}
	}
	if total < n {
		b.Logf("fill: stopped after %s at %d of %d keys", budget, total, n)
	}
	return total
}

// fillRange writes the transactions t, t+step, ... of n keys.
func fillRange(ctx context.Context, cli *clientv3.Client, t, step, n, perTxn int) (int, error) {
	rng := rand.New(rand.NewPCG(uint64(t), 42)) //nolint:gosec // G115: t is a non-negative transaction index used as a seed
	done := 0
	for first := t * perTxn; first < n; first += step * perTxn {
		var ops []clientv3.Op
		for i := first; i < min(n, first+perTxn); i++ {
			ns := fmt.Sprintf("ns-%03d", i%500)
			ops = append(ops, clientv3.OpPut(fmt.Sprintf("/registry/configmaps/%s/cm-%06d", ns, i), configMap(rng, ns, i)))
		}
		if _, err := cli.Txn(ctx).Then(ops...).Commit(); err != nil {
			return done, err
		}
		done += len(ops)
	}
	return done, nil
}

func configMap(rng *rand.Rand, ns string, i int) string {
	payload := make([]byte, 320)
	for j := 0; j < len(payload); j += 8 {
		v := rng.Uint64()
		for k := range 8 {
			payload[j+k] = byte(v >> (8 * k)) //nolint:gosec // G115: taking one byte of v at a time is the point
		}
	}
	return fmt.Sprintf(`{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cm-%06d","namespace":"%s",`+
		`"uid":"%08x-%04x-4%03x-8%03x-%012x","resourceVersion":"%d","creationTimestamp":"2026-11-21T12:00:00Z",`+
		`"labels":{"app.kubernetes.io/name":"bench","app.kubernetes.io/part-of":"cellplane","tier":"backend"},`+
		`"managedFields":[{"manager":"kubectl-client-side-apply","operation":"Update","apiVersion":"v1",`+
		`"time":"2026-11-21T12:00:00Z","fieldsType":"FieldsV1","fieldsV1":{"f:data":{".":{},"f:payload":{}}}}]},`+
		`"data":{"payload":"%s"}}`,
		i, ns, rng.Uint32(), rng.Uint32()&0xffff, rng.Uint32()&0xfff, rng.Uint32()&0xfff, rng.Uint64()&0xffffffffffff,
		1000+i, base64.StdEncoding.EncodeToString(payload))
}

// fillUntilNoSpace writes ~1 MB revisions of key until etcd refuses with
// NOSPACE and returns when it did.
func fillUntilNoSpace(b *testing.B, ctx context.Context, c *etcdCluster, key string) time.Time {
	val := strings.Repeat("v", 1<<20-1<<10)
	for i := 0; i < 3*careNoSpace/len(val); i++ {
		_, err := c.client().Put(ctx, key, val)
		if errors.Is(err, rpctypes.ErrNoSpace) {
			return time.Now()
		}
		if err != nil {
			b.Fatalf("put %d: %v", i, err)
		}
	}
	b.Fatalf("no NOSPACE after %d MB", 3*careNoSpace>>20)
	return time.Time{}
}

func waitNoSpaceAlarm(ctx context.Context, c *etcdCluster) error {
	return framework.Eventually(ctx, 10*time.Second, 100*time.Millisecond, func() error {
		st, err := etcdcare.Status(ctx, c.client(), c.endpoints())
		if err == nil && !st.HasAlarm(pb.AlarmType_NOSPACE) {
			err = errors.New("no NOSPACE alarm yet")
		}
		return err
	})
}

// etcdCluster is three etcd members run straight from the binary, as the etcd
// care package's own test harness runs them.
type etcdCluster struct {
	b       *testing.B
	dir     string
	token   string
	quota   int64
	members []*etcdMember
	cli     *clientv3.Client
}

type etcdMember struct {
	name, ip, dataDir, logPath string
	cmd                        *exec.Cmd
	done                       chan struct{}
}

func (m *etcdMember) clientURL() string { return "http://" + m.ip + ":2379" }
func (m *etcdMember) peerURL() string   { return "http://" + m.ip + ":2380" }

// newEtcdCluster prepares, without starting, a cluster on 127.232.<subnet>.0/24
// whose processes and files go when the benchmark ends.
func newEtcdCluster(b *testing.B, subnet int, quota int64) *etcdCluster {
	c := &etcdCluster{b: b, dir: b.TempDir(), token: fmt.Sprintf("bench-care-%d", subnet), quota: quota}
	for i, zone := range []string{"a", "b", "c"} {
		c.members = append(c.members, &etcdMember{
			name:    "etcd-" + zone,
			ip:      fmt.Sprintf("127.232.%d.%d", subnet, i+1),
			dataDir: filepath.Join(c.dir, "etcd-"+zone),
			logPath: filepath.Join(c.dir, "etcd-"+zone+".log"),
		})
	}
	b.Cleanup(c.cleanup)
	return c
}

func startEtcdCluster(b *testing.B, ctx context.Context, subnet int, quota int64) *etcdCluster {
	c := newEtcdCluster(b, subnet, quota)
	if err := c.start(ctx); err != nil {
		b.Fatal(err)
	}
	return c
}

// start launches every member, on fresh or restored data, and waits until all
// are healthy.
func (c *etcdCluster) start(ctx context.Context) error {
	for _, m := range c.members {
		if err := c.launch(m); err != nil {
			return err
		}
	}
	err := framework.Eventually(ctx, time.Minute, 50*time.Millisecond, func() error {
		for _, m := range c.members {
			if m.exited() {
				return framework.Permanent(fmt.Errorf("%s exited: %s", m.name, tail(m.logPath)))
			}
		}
		st, err := etcdcare.Status(ctx, c.client(), c.endpoints())
		if err == nil && !st.Healthy() {
			err = fmt.Errorf("%d members, quorum %v", len(st.Members), st.Quorum)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("cluster 127.232.x not healthy: %w", err)
	}
	return nil
}

func (c *etcdCluster) launch(m *etcdMember) error {
	var initial []string
	for _, o := range c.members {
		initial = append(initial, o.name+"="+o.peerURL())
	}
	args := []string{
		"--name=" + m.name, "--data-dir=" + m.dataDir,
		"--listen-client-urls=" + m.clientURL(), "--advertise-client-urls=" + m.clientURL(),
		"--listen-peer-urls=" + m.peerURL(), "--initial-advertise-peer-urls=" + m.peerURL(),
		"--initial-cluster=" + strings.Join(initial, ","), "--initial-cluster-state=new",
		"--initial-cluster-token=" + c.token,
		"--auto-compaction-retention=0",
		"--unsafe-no-fsync", // benchmark data only; spares the shared disk
		"--log-level=warn",
	}
	if c.quota > 0 {
		args = append(args, fmt.Sprintf("--quota-backend-bytes=%d", c.quota))
	}
	// A leftover etcd on these addresses would answer in place of this one.
	for _, addr := range []string{m.ip + ":2379", m.ip + ":2380"} {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fmt.Errorf("%s: address busy (leftover process?): %w", m.name, err)
		}
		_ = l.Close()
	}
	logf, err := os.OpenFile(m.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	m.cmd = exec.Command(bins.Etcd.Etcd, args...)
	m.cmd.Stdout, m.cmd.Stderr = logf, logf
	if err := m.cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", m.name, err)
	}
	m.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(m.cmd, m.done)
	return nil
}

func (m *etcdMember) exited() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// stop ends the member by its PID: SIGTERM, then SIGKILL after 10 s.
func (m *etcdMember) stop() {
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-m.done:
	case <-time.After(10 * time.Second):
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	m.cmd = nil
}

func (c *etcdCluster) stopAll() {
	if c.cli != nil {
		_ = c.cli.Close()
		c.cli = nil
	}
	for _, m := range c.members {
		m.stop()
	}
}

func (c *etcdCluster) cleanup() {
	if c.b.Failed() {
		for _, m := range c.members {
			c.b.Logf("%s log:\n%s", m.name, tail(m.logPath))
		}
	}
	c.stopAll()
}

func (c *etcdCluster) endpoints() []string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.clientURL())
	}
	return eps
}

// client is the cluster's shared client, closed with the cluster.
func (c *etcdCluster) client() *clientv3.Client {
	if c.cli == nil {
		c.cli = c.dial(c.b)
	}
	return c.cli
}

// newClient is a separate connection, as the backup worker keeps its own, closed
// when the benchmark ends.
func (c *etcdCluster) newClient(b *testing.B) *clientv3.Client {
	cli := c.dial(b)
	b.Cleanup(func() { _ = cli.Close() })
	return cli
}

func (c *etcdCluster) dial(b *testing.B) *clientv3.Client {
	cli, err := clientv3.New(clientv3.Config{Endpoints: c.endpoints(), DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		b.Fatalf("etcd client: %v", err)
	}
	return cli
}

func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

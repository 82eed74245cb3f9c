package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"golang.org/x/sync/errgroup"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/test/framework"
)

// The fragmentation TestEtcdDefragmentationSurvivesKill makes. A defragmentation
// copies a member's live data into a new file, so how long it takes follows the
// live bytes, not the free ones: the live half keeps each member busy for half a
// second to a few seconds here, against the few milliseconds the test needs to see
// it and kill cellplane. The garbage half, freed by compaction, makes every member
// due.
const (
	killLiveMiB    = 128
	killGarbageMiB = 128
	// killMinFragmentation is etcd care's threshold here; the data above leaves
	// over half of each backend free, and a defragmented one almost none.
	killMinFragmentation = 0.3
	// killMinDBBytes is below every member's backend, before and after, so the
	// fragmentation alone decides.
	killMinDBBytes = 64 << 20
)

// TestEtcdDefragmentationSurvivesKill kills cellplane (cellplane up and the cell's
// process, with SIGKILL) while etcd care is defragmenting a member, starts it
// again, and checks the job finishes: every member ends defragmented, none while
// it led, status.etcd records it, and nothing written before is lost.
func TestEtcdDefragmentationSurvivesKill(t *testing.T) {
	ctx := ctxFor(t)
	start := time.Now()
	in := framework.NewInstance(t, bins)
	in.Args = []string{"--defrag-min-db-bytes", fmt.Sprint(killMinDBBytes), "--defrag-min-fragmentation", fmt.Sprint(killMinFragmentation)}
	in.Start(ctx)
	const name = "defrag-kill"
	createActive(ctx, t, in, name)
	kc := kubeconfig(ctx, t, in, name)
	before := []string{"before-1", "before-2", "before-3"}
	for _, cm := range before {
		if _, err := kubectl(ctx, kc, "create", "configmap", cm, "--from-literal=k="+cm); err != nil {
			t.Fatal(err)
		}
	}
	if e := describe(ctx, t, in, name).Cellplane.Etcd; e != nil && e.LastDefragmentation != nil {
		t.Fatalf("etcd care defragmented before any fragmentation: %+v", e)
	}
	t.Logf("cluster ACTIVE with %d configmaps after %s", len(before), time.Since(start).Round(time.Millisecond))

	probes := memberProbes(t, in, name)
	ids := memberIDs(ctx, t, probes)
	cli := etcdClient(t, in, name)
	fragmentStart := time.Now()
	fragmentForKill(ctx, t, cli)
	t.Logf("wrote %d MiB live and %d MiB deleted and compacted in %s", killLiveMiB, killGarbageMiB, time.Since(fragmentStart).Round(time.Millisecond))

	victim, killedAt, logOffset := killMidDefrag(ctx, t, in, name, probes)
	in.Start(ctx)
	t.Logf("cellplane up again %s after the kill", time.Since(killedAt).Round(time.Millisecond))
	finishedAt := awaitDefragFinished(ctx, t, in, name, probes, ids, killedAt)
	t.Logf("every member defragmented %s after the kill", finishedAt.Sub(killedAt).Round(time.Millisecond))
	checkResumedSteps(t, defragStepsSince(t, in, name, logOffset), victim)

	for _, cm := range before {
		if _, err := kubectl(ctx, kc, "get", "configmap", cm); err != nil {
			t.Errorf("configmap %s lost: %v", cm, err)
		}
	}
	live, err := cli.Get(ctx, "/e2e/defrag-kill/live/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil || live.Count != killLiveMiB {
		t.Errorf("bulk keys after the defragmentations: %v, want %d: %v", live, killLiveMiB, err)
	}
	if _, err := kubectl(ctx, kc, "create", "configmap", "after-restart", "--from-literal=k=v"); err != nil {
		t.Errorf("cluster refuses writes after the restart: %v", err)
	}
	t.Logf("status.etcd message: %s", describe(ctx, t, in, name).Cellplane.Etcd.Message)
	t.Logf("whole test: %s", time.Since(start).Round(time.Millisecond))
}

// killMidDefrag waits for etcd to report a member defragmenting, then kills
// cellplane. It returns the member, the time of the kill and the length of the
// cell's log then, where what the dead cell wrote ends.
func killMidDefrag(ctx context.Context, t *testing.T, in *framework.Instance, name string, probes []memberProbe) (string, time.Time, int64) {
	t.Helper()
	victim, detectedAt := awaitDefragInFlight(ctx, t, in, probes)
	killAll(t, in)
	killedAt := time.Now()
	fi, err := os.Stat(datadir.CellLogFile(in.DataDir, 1))
	if err != nil {
		t.Fatal(err)
	}
	// The proof the kill landed mid-defragmentation: etcd still says so after
	// cellplane is dead. etcd finishes a defragmentation whoever asked for it (its
	// Defragment RPC ignores the caller going away), so the member comes back by
	// itself; what the kill cuts short is etcd care's pass over the other two.
	if busy, err := victim.defragInFlight(ctx); err != nil || !busy {
		t.Fatalf("%s finished defragmenting before the kill landed, %s after etcd reported it (in flight: %v, %v): more live data is needed",
			victim.name, killedAt.Sub(detectedAt).Round(time.Millisecond), busy, err)
	}
	// And it was etcd care's doing, not some other client's.
	if m := lastDefragStart(t, in, name, fi.Size()); m != victim.name {
		t.Fatalf("etcd says %s is defragmenting, but the cell's last defragmentation began on %q", victim.name, m)
	}
	t.Logf("killed cellplane %s after etcd reported %s defragmenting", killedAt.Sub(detectedAt).Round(time.Millisecond), victim.name)
	return victim.name, killedAt, fi.Size()
}

// fragmentForKill writes killLiveMiB and killGarbageMiB of 1 MiB values straight to
// etcd, outside /registry, then deletes the garbage and compacts, as
// kube-apiserver's compactor would, so that etcd frees it.
func fragmentForKill(ctx context.Context, t *testing.T, cli *clientv3.Client) {
	t.Helper()
	// One value per request: etcd takes requests up to 1.5 MiB.
	value := strings.Repeat("d", 1<<20)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := range killLiveMiB + killGarbageMiB {
		key := fmt.Sprintf("/e2e/defrag-kill/live/%04d", i)
		if i >= killLiveMiB {
			key = fmt.Sprintf("/e2e/defrag-kill/garbage/%04d", i)
		}
		g.Go(func() error {
			_, err := cli.Put(gctx, key, value)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatalf("writing bulk data: %v", err)
	}
	resp, err := cli.Delete(ctx, "/e2e/defrag-kill/garbage/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
}

// memberProbe reaches one etcd member alone: its Status RPC, and the metrics it
// serves on its client port.
type memberProbe struct {
	name string
	url  string
	cli  *clientv3.Client
	http *http.Client
}

func memberProbes(t *testing.T, in *framework.Instance, name string) []memberProbe {
	t.Helper()
	tc, err := etcdTLS(filepath.Join(in.DataDir, "cells", "cell-1", "clusters", v1alpha1.Namespace(v1alpha1.DefaultAccount),
		v1alpha1.ObjectName(name), "pki", "etcd"))
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}
	t.Cleanup(hc.CloseIdleConnections)
	var out []memberProbe
	for _, c := range describe(context.Background(), t, in, name).Cellplane.Components {
		if strings.HasPrefix(c.Name, "etcd-") {
			out = append(out, memberProbe{name: c.Name, url: "https://" + c.Address, cli: etcdClient(t, in, name, c.Name), http: hc})
		}
	}
	if len(out) != 3 {
		t.Fatalf("want 3 etcd members, got %d", len(out))
	}
	return out
}

// defragInFlight reads etcd's own etcd_disk_defrag_inflight gauge, which the
// member sets for exactly as long as its backend is being defragmented.
func (p memberProbe) defragInFlight(ctx context.Context) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/metrics", nil)
	if err != nil {
		return false, err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("%s /metrics: %s", p.name, resp.Status)
	}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "etcd_disk_defrag_inflight "); ok {
			_, _ = io.Copy(io.Discard, resp.Body)
			return v == "1", nil
		}
	}
	return false, fmt.Errorf("%s /metrics has no etcd_disk_defrag_inflight: %v", p.name, sc.Err())
}

func (p memberProbe) status(ctx context.Context) (*clientv3.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	return p.cli.Status(ctx, p.cli.Endpoints()[0])
}

// awaitDefragInFlight waits until etcd itself reports a member defragmenting and
// returns it. It polls often: the kill must land well inside the defragmentation.
func awaitDefragInFlight(ctx context.Context, t *testing.T, in *framework.Instance, probes []memberProbe) (memberProbe, time.Time) {
	t.Helper()
	var victim memberProbe
	err := framework.Eventually(ctx, time.Minute, 10*time.Millisecond, func() error {
		for _, p := range probes {
			if busy, err := p.defragInFlight(ctx); err == nil && busy {
				victim = p
				return nil
			}
		}
		return errors.New("no member is defragmenting")
	})
	if err != nil {
		t.Fatalf("etcd care never began defragmenting: %v\ncell log:\n%s", err, cellLog(t, in))
	}
	return victim, time.Now()
}

// awaitDefragFinished waits until every member's own status shows its backend
// below the fragmentation threshold and status.etcd records a defragmentation
// after the kill. Meanwhile it samples which member etcd says is defragmenting and
// fails the test if the other members both say that member leads. (A
// defragmenting member's own Status RPC blocks until it is done, so the leader is
// read from the others.)
func awaitDefragFinished(ctx context.Context, t *testing.T, in *framework.Instance, name string, probes []memberProbe, ids map[string]uint64, killedAt time.Time) time.Time {
	t.Helper()
	seen, reported := map[string]bool{}, map[string]bool{}
	var frag []string
	err := framework.Eventually(ctx, 2*time.Minute, 100*time.Millisecond, func() error {
		frag = frag[:0]
		var busy []string
		leaders := map[uint64]int{}
		due := false
		for _, p := range probes {
			inflight, err := p.defragInFlight(ctx)
			if err != nil {
				return err
			}
			if inflight {
				busy = append(busy, p.name)
				if !seen[p.name] {
					t.Logf("%s defragmenting at %s", p.name, time.Since(killedAt).Round(time.Millisecond))
				}
				seen[p.name] = true
				continue
			}
			st, err := p.status(ctx)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			leaders[st.Leader]++
			f := 1 - float64(st.DbSizeInUse)/float64(st.DbSize)
			frag = append(frag, fmt.Sprintf("%s %.2f of %d MiB", p.name, f, st.DbSize>>20))
			due = due || f >= killMinFragmentation
		}
		for _, b := range busy {
			if leaders[ids[b]] == len(probes)-len(busy) && !reported[b] {
				reported[b] = true
				t.Errorf("%s is defragmenting while the other members say it leads", b)
			}
		}
		if len(busy) > 0 {
			return fmt.Errorf("%v defragmenting", busy)
		}
		if due {
			return fmt.Errorf("fragmentation: %s", strings.Join(frag, ", "))
		}
		e := describe(ctx, t, in, name).Cellplane.Etcd
		if e == nil || e.LastDefragmentation == nil || e.LastDefragmentation.Time().Before(killedAt.Truncate(time.Second)) {
			return fmt.Errorf("status.etcd records no defragmentation since the kill: %+v", e)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("defragmentation never finished after the restart: %v\ncell log:\n%s", err, cellLog(t, in))
	}
	t.Logf("fragmentation at the end: %s; seen defragmenting after the kill: %v", strings.Join(frag, ", "), seen)
	return time.Now()
}

// memberIDs maps each member's name to its ID, from its own status.
func memberIDs(ctx context.Context, t *testing.T, probes []memberProbe) map[string]uint64 {
	t.Helper()
	ids := map[string]uint64{}
	for _, p := range probes {
		st, err := p.status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ids[p.name] = st.Header.MemberId
	}
	return ids
}

// defragStepsSince is defragSteps over what the cell logged from offset on.
func defragStepsSince(t *testing.T, in *framework.Instance, name string, offset int64) []defragStep {
	t.Helper()
	var steps []defragStep
	scanCellLog(t, in, name, offset, -1, func(kv map[string]string) {
		if kv["msg"] == "etcd member defragmented" {
			t.Logf("after the restart etcd care defragmented %s in %s; leader at the time %s, leadership moved to %q",
				kv["member"], kv["took"], kv["leaderAtDefrag"], kv["movedLeaderTo"])
			steps = append(steps, defragStep{member: kv["member"], id: kv["id"], leaderAtDefrag: kv["leaderAtDefrag"], movedLeaderTo: kv["movedLeaderTo"]})
		}
	})
	return steps
}

// lastDefragStart names the member of the last "defragmenting etcd member" line
// the cell logged before offset.
func lastDefragStart(t *testing.T, in *framework.Instance, name string, offset int64) string {
	t.Helper()
	var member string
	scanCellLog(t, in, name, 0, offset, func(kv map[string]string) {
		if kv["msg"] == "defragmenting etcd member" {
			member = kv["member"]
		}
	})
	return member
}

// scanCellLog calls f with the fields of each line about cluster name that the
// cell logged between byte offsets from and to (to < 0: the end).
func scanCellLog(t *testing.T, in *framework.Instance, name string, from, to int64, f func(map[string]string)) {
	t.Helper()
	fh, err := os.Open(datadir.CellLogFile(in.DataDir, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if to < 0 {
		to = 1 << 62
	}
	sc := bufio.NewScanner(io.NewSectionReader(fh, from, to-from))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		kv := map[string]string{}
		for _, m := range logField.FindAllStringSubmatch(sc.Text(), -1) {
			kv[m[1]] = strings.Trim(m[2], `"`)
		}
		if kv["cluster"] == name {
			f(kv)
		}
	}
}

// checkResumedSteps: after the restart etcd care defragmented the two members the
// kill left undone, each while another led, and did not redo the one etcd finished
// on its own.
func checkResumedSteps(t *testing.T, steps []defragStep, victim string) {
	t.Helper()
	done := map[string]bool{victim: true}
	for _, s := range steps {
		if s.leaderAtDefrag == "" || s.leaderAtDefrag == s.member {
			t.Errorf("%s was defragmented while etcd said %q led", s.member, s.leaderAtDefrag)
		}
		if s.member == victim {
			t.Errorf("%s was defragmented again, though etcd had finished it", victim)
		}
		done[s.member] = true
	}
	if len(done) != 3 {
		t.Errorf("members defragmented, the interrupted one included: %v; want all three", done)
	}
}

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/test/framework"
)

// TestEtcdNoSpace fills a small etcd until real etcd raises NOSPACE and refuses
// the API server's writes, then shows cellplane clears the alarm on its own,
// without losing anything written before.
func TestEtcdNoSpace(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	createActiveWith(ctx, t, in, "full", "--etcd-quota", "32Mi")
	kc := kubeconfig(ctx, t, in, "full")
	before := []string{"before-1", "before-2", "before-3"}
	for _, name := range before {
		if _, err := kubectl(ctx, kc, "create", "configmap", name, "--from-literal=k="+name); err != nil {
			t.Fatal(err)
		}
	}

	// Revisions of one key: history, which compaction frees, not live data. Written
	// straight to etcd so the quota fills in seconds rather than minutes of kubectl.
	cli := etcdClient(t, in, "full")
	value := strings.Repeat("x", 1<<20)
	var alarmAt time.Time
	for i := 0; i < 200 && alarmAt.IsZero(); i++ {
		_, err := cli.Put(ctx, "/e2e/filler", fmt.Sprintf("%d-%s", i, value))
		switch {
		case errors.Is(err, rpctypes.ErrNoSpace):
			alarmAt = time.Now()
			t.Logf("etcd refused revision %d of the filler: %v", i, err)
		case err != nil:
			t.Fatalf("filling etcd: %v", err)
		}
	}
	if alarmAt.IsZero() {
		t.Fatal("200 MiB of revisions did not raise NOSPACE on a 32 MiB quota")
	}
	// The API server sees it as tenants would. The window is short (etcd care
	// recovers within seconds), so a successful write here is no failure, only a
	// lost observation.
	if out, err := kubectl(ctx, kc, "create", "configmap", "during-alarm", "--from-literal=k=v"); err != nil {
		if !strings.Contains(out, "database space exceeded") {
			t.Errorf("a write under NOSPACE failed for another reason: %v", err)
		}
		t.Logf("kubectl under NOSPACE: %s", strings.TrimSpace(out))
	} else {
		t.Log("etcd care recovered before kubectl could observe the alarm")
	}

	var writableAt time.Time
	err := framework.Eventually(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		if writableAt.IsZero() {
			if _, err := kubectl(ctx, kc, "create", "configmap", "after-alarm", "--from-literal=k=v"); err != nil {
				return err
			}
			writableAt = time.Now()
		}
		e := describe(ctx, t, in, "full").Cellplane.Etcd
		// Measured after the alarm (status times are whole seconds): an older
		// status shows no alarm only because it predates it.
		if e == nil || len(e.Alarms) > 0 || e.ObservedAt.Time().Before(alarmAt.Truncate(time.Second)) {
			return fmt.Errorf("status.etcd not yet clear: %+v", e)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("NOSPACE never cleared: %v\ncell log:\n%s", err, cellLog(t, in))
	}
	t.Logf("NOSPACE alarm to writable through kubectl: %s", writableAt.Sub(alarmAt).Round(time.Millisecond))
	for _, name := range append(before, "after-alarm") {
		if _, err := kubectl(ctx, kc, "get", "configmap", name); err != nil {
			t.Errorf("configmap %s lost: %v", name, err)
		}
	}
	e := describe(ctx, t, in, "full").Cellplane.Etcd
	if e.LastDefragmentation == nil || e.LastCompaction == nil || e.QuotaBytes != 32<<20 {
		t.Errorf("status.etcd after recovery = %+v, want last defragmentation and compaction set and a 32 MiB quota", e)
	}
	t.Logf("status.etcd message: %s", e.Message)
}

// TestEtcdDefragmentation lowers the defragmentation thresholds, fragments etcd
// with real writes, deletes and a compaction, and checks from etcd's own status at
// the time of each defragmentation that the followers went first and the leader
// last, after leadership had moved away from it.
func TestEtcdDefragmentation(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.Args = []string{"--defrag-min-db-bytes", fmt.Sprint(16 << 20)}
	in.Start(ctx)
	createActive(ctx, t, in, "frag")
	cli := etcdClient(t, in, "frag")

	value := strings.Repeat("f", 256<<10)
	for i := range 120 {
		if _, err := cli.Put(ctx, fmt.Sprintf("/e2e/frag/%03d", i), value); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := cli.Delete(ctx, "/e2e/frag/", clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	// What kube-apiserver's compactor does every five minutes, done now.
	if _, err := cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical()); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote and deleted 30 MiB, compacted at revision %d", resp.Header.Revision)

	var steps []defragStep
	err = framework.Eventually(ctx, 3*time.Minute, time.Second, func() error {
		steps = defragSteps(t, in, "frag")
		if len(steps) < 3 {
			return fmt.Errorf("%d members defragmented so far", len(steps))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\ncell log:\n%s", err, cellLog(t, in))
	}
	steps = steps[:3]
	for _, s := range steps {
		t.Logf("defragmented %s (%s): leader at the time %s, leadership moved to %q", s.member, s.id, s.leaderAtDefrag, s.movedLeaderTo)
	}
	checkDefragOrder(t, steps)
	// The pass writes status.etcd once it is done, after its log lines.
	err = framework.Eventually(ctx, 30*time.Second, 250*time.Millisecond, func() error {
		if e := describe(ctx, t, in, "frag").Cellplane.Etcd; e == nil || e.LastDefragmentation == nil {
			return fmt.Errorf("status.etcd records no defragmentation: %+v", e)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// checkDefragOrder: the first leader is defragmented last, after handing over
// leadership; every member was a follower when its defragmentation began.
func checkDefragOrder(t *testing.T, steps []defragStep) {
	t.Helper()
	members := map[string]bool{}
	for i, s := range steps {
		members[s.member] = true
		if s.leaderAtDefrag == "" || s.leaderAtDefrag == s.member {
			t.Errorf("step %d: %s was defragmented while etcd said %q led", i+1, s.member, s.leaderAtDefrag)
		}
		if last := i == len(steps)-1; last != (s.movedLeaderTo != "") {
			t.Errorf("step %d: %s moved leadership to %q; only the last step (the leader) may", i+1, s.member, s.movedLeaderTo)
		}
	}
	if len(members) != 3 {
		t.Errorf("want three distinct members defragmented, got %v", steps)
	}
	first, last := steps[0], steps[len(steps)-1]
	if first.leaderAtDefrag != last.member || last.leaderAtDefrag != last.movedLeaderTo {
		t.Errorf("the followers must go first under the original leader %s, which goes last under the new one: %v", last.member, steps)
	}
}

// TestEtcdMemberKilled kills one etcd member with SIGKILL and shows it comes back
// as the same member, with its data, and that `cluster health` reports it.
func TestEtcdMemberKilled(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	createActive(ctx, t, in, "sturdy")
	kc := kubeconfig(ctx, t, in, "sturdy")
	if _, err := kubectl(ctx, kc, "create", "configmap", "before-kill", "--from-literal=k=v"); err != nil {
		t.Fatal(err)
	}
	ids := waitEtcdHealthy(ctx, t, in, "sturdy", nil, time.Time{})
	victim := "etcd-b"
	pid := componentPIDs(t, describe(ctx, t, in, "sturdy"))[victim]
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	err := framework.Eventually(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		pids, err := pidsOf(describe(ctx, t, in, "sturdy"))
		if err != nil {
			return err
		}
		if pids[victim] == pid {
			return fmt.Errorf("%s not restarted yet", victim)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitEtcdHealthy(ctx, t, in, "sturdy", ids, killedAt)
	t.Logf("%s back, healthy and with its member ID %s after %s", victim, ids[victim], time.Since(killedAt).Round(time.Millisecond))
	if _, err := kubectl(ctx, kc, "get", "configmap", "before-kill"); err != nil {
		t.Errorf("configmap written before the kill is gone: %v", err)
	}
	// From the member itself: its own ID, and the ConfigMap in its own backend
	// (a serializable read answers from the member's local data).
	only := etcdClient(t, in, "sturdy", victim)
	ep := only.Endpoints()[0]
	st, err := only.Status(ctx, ep)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprintf("%x", st.Header.MemberId); got != ids[victim] {
		t.Errorf("%s answers as member %s, was %s", victim, got, ids[victim])
	}
	resp, err := only.Get(ctx, "/registry/configmaps/default/before-kill", clientv3.WithSerializable(), clientv3.WithKeysOnly())
	if err != nil || resp.Count != 1 {
		t.Errorf("%s's own data lacks the ConfigMap written before the kill: %v (%d keys)", victim, err, resp.Count)
	}
	checkHealthCommand(ctx, t, in, "sturdy", ids)
}

// waitEtcdHealthy waits until status.etcd, measured after since, shows three
// healthy members with quorum and a leader, and the EtcdQuorum and EtcdLeader
// conditions agree; with want it also checks every member kept its ID. It returns
// member IDs by name.
func waitEtcdHealthy(ctx context.Context, t *testing.T, in *framework.Instance, name string, want map[string]string, since time.Time) map[string]string {
	t.Helper()
	ids := map[string]string{}
	// Unchanged measurements are written every 30 s; status times are whole seconds.
	err := framework.Eventually(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		cl := describe(ctx, t, in, name)
		e := cl.Cellplane.Etcd
		if e == nil || len(e.Members) != 3 || !e.Quorum || e.Leader == "" {
			return fmt.Errorf("status.etcd = %+v", e)
		}
		if e.ObservedAt.Time().Before(since.Truncate(time.Second).Add(time.Second)) {
			return fmt.Errorf("status.etcd measured at %s, before %s", e.ObservedAt.Time(), since)
		}
		for _, m := range e.Members {
			if !m.Healthy || m.ID == "" || m.Zone == "" {
				return fmt.Errorf("member %+v", m)
			}
			if want != nil && want[m.Name] != m.ID {
				return framework.Permanent(fmt.Errorf("%s has ID %s, had %s", m.Name, m.ID, want[m.Name]))
			}
			ids[m.Name] = m.ID
		}
		for _, typ := range []string{v1alpha1.ConditionEtcdQuorum, v1alpha1.ConditionEtcdLeader} {
			if !conditionTrue(cl, typ) {
				return fmt.Errorf("condition %s not true: %+v", typ, cl.Cellplane.Conditions)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("etcd of %s never healthy: %v", name, err)
	}
	return ids
}

func conditionTrue(cl *eks.Cluster, typ string) bool {
	for _, c := range cl.Cellplane.Conditions {
		if c.Type == typ {
			return c.Status == "True"
		}
	}
	return false
}

// checkHealthCommand runs `cluster health` in both output formats.
func checkHealthCommand(ctx context.Context, t *testing.T, in *framework.Instance, name string, ids map[string]string) {
	t.Helper()
	out, errOut, err := in.CLI(ctx, "cluster", "health", name)
	if err != nil {
		t.Fatalf("cluster health: %v\n%s", err, errOut)
	}
	t.Logf("cluster health %s:\n%s", name, out)
	wants := []string{"Quorum:", "true", "Leader:", "etcd-", "Quota:", "2.0 GiB", "Fragmentation:", "Alarms:", "MEMBER"}
	for member, id := range ids {
		wants = append(wants, member, id)
	}
	for _, want := range wants {
		if !strings.Contains(out, want) {
			t.Errorf("cluster health output lacks %q", want)
		}
	}
	out, errOut, err = in.CLI(ctx, "cluster", "health", name, "-o", "json")
	if err != nil {
		t.Fatalf("cluster health -o json: %v\n%s", err, errOut)
	}
	var h struct {
		Cluster          string
		Etcd             *eks.EtcdHealth
		QuotaUsedPercent float64
	}
	if err := json.Unmarshal([]byte(out), &h); err != nil || h.Cluster != name || h.Etcd == nil || len(h.Etcd.Members) != 3 ||
		h.QuotaUsedPercent <= 0 || h.QuotaUsedPercent >= 100 {
		t.Errorf("cluster health -o json = %s (%v)", out, err)
	}
}

// createActiveWith is createActive with extra create flags.
func createActiveWith(ctx context.Context, t *testing.T, in *framework.Instance, name string, flags ...string) {
	t.Helper()
	args := append([]string{"cluster", "create", name, "--wait"}, flags...)
	if _, errOut, err := in.CLI(ctx, args...); err != nil {
		t.Fatalf("cluster create %s: %v\n%s\ncell log:\n%s", name, err, errOut, cellLog(t, in))
	}
}

// etcdClient connects to the cluster's etcd (only to the named members, if any)
// with cellplane's own client certificate, as an operator with the cluster's PKI
// would.
func etcdClient(t *testing.T, in *framework.Instance, name string, members ...string) *clientv3.Client {
	t.Helper()
	dir := filepath.Join(in.DataDir, "cells", "cell-1", "clusters", v1alpha1.Namespace(v1alpha1.DefaultAccount), name, "pki")
	f := pki.ClusterPaths(dir, pki.ClusterSpec{})
	tc, err := (transport.TLSInfo{CertFile: f.CellplaneEtcdClient.Cert, KeyFile: f.CellplaneEtcdClient.Key, TrustedCAFile: f.EtcdCA}).ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	var eps []string
	for _, c := range describe(context.Background(), t, in, name).Cellplane.Components {
		if strings.HasPrefix(c.Name, "etcd-") && (len(members) == 0 || slices.Contains(members, c.Name)) {
			eps = append(eps, "https://"+c.Address)
		}
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: eps, TLS: tc, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

// defragStep is one "etcd member defragmented" line of the cell's log.
type defragStep struct {
	member, id, leaderAtDefrag, movedLeaderTo string
}

var logField = regexp.MustCompile(`(\w+)=("(?:[^"\\]|\\.)*"|\S*)`)

// defragSteps reads the cell's log for the defragmentations of cluster name, in
// order, from the first pass that defragmented anything.
func defragSteps(t *testing.T, in *framework.Instance, name string) []defragStep {
	t.Helper()
	f, err := os.Open(datadir.CellLogFile(in.DataDir, 1))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var steps []defragStep
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		kv := map[string]string{}
		for _, m := range logField.FindAllStringSubmatch(sc.Text(), -1) {
			kv[m[1]] = strings.Trim(m[2], `"`)
		}
		if kv["msg"] != "etcd member defragmented" || kv["cluster"] != name {
			continue
		}
		if kv["step"] == "1" && len(steps) > 0 && len(steps) < 3 {
			steps = nil // an interrupted pass; the next one starts over
		}
		steps = append(steps, defragStep{member: kv["member"], id: kv["id"], leaderAtDefrag: kv["leaderAtDefrag"], movedLeaderTo: kv["movedLeaderTo"]})
	}
	return steps
}

// cellLog is the end of cell-1's log, for failure messages.
func cellLog(t *testing.T, in *framework.Instance) string {
	t.Helper()
	log, err := readCellLog(in)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(log, "\n")
	return strings.Join(lines[max(0, len(lines)-80):], "\n")
}

// cellLogAll is cell-1's whole log.
func cellLogAll(t *testing.T, in *framework.Instance) string {
	t.Helper()
	log, err := readCellLog(in)
	if err != nil {
		t.Fatal(err)
	}
	return log
}

func readCellLog(in *framework.Instance) (string, error) {
	b, err := os.ReadFile(datadir.CellLogFile(in.DataDir, 1))
	return string(b), err
}

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/etcdcare"
	"github.com/cellplane/cellplane/test/framework"
)

// etcdDataDir is member's data directory in the instance's only cell.
func etcdDataDir(in *framework.Instance, name, member string) string {
	return filepath.Join(in.DataDir, "cells", "cell-1", "clusters", v1alpha1.Namespace(v1alpha1.DefaultAccount), name, member)
}

// loseMembers kills each member with SIGKILL and deletes its data directory,
// as the loss of its disk would.
func loseMembers(ctx context.Context, t *testing.T, in *framework.Instance, name string, members ...string) {
	t.Helper()
	pids := componentPIDs(t, describe(ctx, t, in, name))
	for _, m := range members {
		if err := syscall.Kill(pids[m], syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(etcdDataDir(in, name, m)); err != nil {
			t.Fatal(err)
		}
	}
}

// createConfigMaps creates prefix-0..n-1 in the default namespace and returns
// the resourceVersion of the last.
func createConfigMaps(ctx context.Context, t *testing.T, kc, prefix string, n int) int64 {
	t.Helper()
	var last int64
	for i := range n {
		out, err := kubectl(ctx, kc, "create", "configmap", fmt.Sprintf("%s-%d", prefix, i), "--from-literal=i="+strconv.Itoa(i),
			"-o", "jsonpath={.metadata.resourceVersion}")
		if err != nil {
			t.Fatal(err)
		}
		if last, err = strconv.ParseInt(strings.TrimSpace(out), 10, 64); err != nil {
			t.Fatalf("resourceVersion %q: %v", out, err)
		}
	}
	return last
}

func checkConfigMaps(ctx context.Context, t *testing.T, kc, prefix string, n int) {
	t.Helper()
	for i := range n {
		if _, err := kubectl(ctx, kc, "get", "configmap", fmt.Sprintf("%s-%d", prefix, i)); err != nil {
			t.Errorf("configmap %s-%d written before the fault is gone: %v", prefix, i, err)
		}
	}
}

// TestEtcdMemberDataLost deletes one member's data directory: the member is
// removed, added back as a learner under a new ID, promoted once caught up, and
// holds every object in its own backend.
func TestEtcdMemberDataLost(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.Start(ctx)
	createActive(ctx, t, in, "disk")
	kc := kubeconfig(ctx, t, in, "disk")
	createConfigMaps(ctx, t, kc, "before", 5)
	ids := waitEtcdHealthy(ctx, t, in, "disk", nil, time.Time{})

	const victim = "etcd-c"
	lostAt := time.Now()
	loseMembers(ctx, t, in, "disk", victim)
	var newID string
	var sawReplacing bool
	err := framework.Eventually(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		cl := describe(ctx, t, in, "disk")
		for _, c := range cl.Cellplane.Conditions {
			if c.Type == v1alpha1.ConditionEtcdMembers && c.Status == "False" {
				sawReplacing = true
			}
		}
		e := cl.Cellplane.Etcd
		if e == nil || len(e.Members) != 3 || !e.Quorum || e.ObservedAt.Time().Before(lostAt) {
			return fmt.Errorf("status.etcd = %+v", e)
		}
		for _, m := range e.Members {
			if !m.Healthy {
				return fmt.Errorf("member %+v", m)
			}
			if m.Name == victim {
				newID = m.ID
			}
		}
		if newID == "" || newID == ids[victim] {
			return fmt.Errorf("%s still has its old ID %s", victim, ids[victim])
		}
		if !conditionTrue(cl, v1alpha1.ConditionEtcdMembers) || cl.Status != "ACTIVE" || !conditionTrue(cl, v1alpha1.ConditionReady) {
			return fmt.Errorf("cluster %s, conditions %+v", cl.Status, cl.Cellplane.Conditions)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s never replaced: %v\ncell log:\n%s", victim, err, cellLog(t, in))
	}
	t.Logf("%s replaced after %s: member %s → %s", victim, time.Since(lostAt).Round(time.Millisecond), ids[victim], newID)
	if !sawReplacing {
		t.Errorf("the EtcdMembers condition never reported the replacement")
	}

	// etcd's own view: three voters, none a learner, the victim under its new ID.
	cli := etcdClient(t, in, "disk")
	list, err := cli.MemberList(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range list.Members {
		if m.IsLearner {
			t.Errorf("member %s (%x) is still a learner", m.Name, m.ID)
		}
		if m.Name == victim && fmt.Sprintf("%x", m.ID) != newID {
			t.Errorf("etcd lists %s as %x, status says %s", victim, m.ID, newID)
		}
	}
	if len(list.Members) != 3 {
		t.Errorf("etcd has %d members, want 3", len(list.Members))
	}
	// The victim's own backend holds what was written before its loss.
	only := etcdClient(t, in, "disk", victim)
	resp, err := only.Get(ctx, "/registry/configmaps/default/before-", clientv3.WithPrefix(), clientv3.WithSerializable(), clientv3.WithKeysOnly())
	if err != nil || resp.Count != 5 {
		t.Errorf("%s's own data has %d of the 5 configmaps (%v)", victim, resp.Count, err)
	}
	checkConfigMaps(ctx, t, kc, "before", 5)
	if _, err := kubectl(ctx, kc, "create", "configmap", "after"); err != nil {
		t.Errorf("no write after the replacement: %v", err)
	}
	if out, _, err := in.CLI(ctx, "cluster", "describe", "disk"); err != nil || !regexp.MustCompile(`Replaced member:\s+`+victim+` as `+newID+`, Promoted`).MatchString(out) {
		t.Errorf("cluster describe does not show the finished replacement of %s (%v):\n%s", victim, err, out)
	}

	t.Run("killed mid-replacement", func(t *testing.T) { replaceAcrossKill(ctx, t, in, "disk", kc) })
}

// replaceAcrossKill loses etcd-b's data and kills cellplane and its cell with
// SIGKILL the moment the replacement recorded its learner, between adding it
// and promoting it; started again, the cell finishes the job. The replacement
// shows in status.etcdMembership and in `cluster describe` meanwhile.
func replaceAcrossKill(ctx context.Context, t *testing.T, in *framework.Instance, name, kc string) {
	const victim = "etcd-b"
	ids := waitEtcdHealthy(ctx, t, in, name, nil, time.Time{})
	record := filepath.Join(filepath.Dir(etcdDataDir(in, name, victim)), "etcd-state", victim+".join")
	lostAt := time.Now()
	loseMembers(ctx, t, in, name, victim)
	err := framework.Eventually(ctx, 2*time.Minute, 20*time.Millisecond, func() error {
		_, err := os.Stat(record)
		return err
	})
	if err != nil {
		t.Fatalf("the replacement never recorded its learner: %v\ncell log:\n%s", err, cellLog(t, in))
	}
	killAll(t, in)
	t.Logf("killed cellplane and its cell %s after the loss, with the learner recorded", time.Since(lostAt).Round(time.Millisecond))
	in.Start(ctx)
	var sawJoining bool
	err = framework.Eventually(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		cl := describe(ctx, t, in, name)
		var rep *eks.MemberReplacement
		if m := cl.Cellplane.EtcdMembership; m != nil {
			for i := range m.Replacements {
				if m.Replacements[i].Member == victim {
					rep = &m.Replacements[i]
				}
			}
		}
		if rep != nil && rep.Phase == v1alpha1.ReplacementJoining {
			sawJoining = true
			if out, _, err := in.CLI(ctx, "cluster", "describe", name); err == nil && !strings.Contains(out, "Replaced member:") {
				return framework.Permanent(fmt.Errorf("status shows %s joining, cluster describe does not:\n%s", victim, out))
			}
		}
		if rep == nil || rep.Phase != v1alpha1.ReplacementPromoted || rep.LearnerID == ids[victim] {
			return fmt.Errorf("replacement of %s: %+v", victim, rep)
		}
		if !conditionTrue(cl, v1alpha1.ConditionEtcdMembers) || !conditionTrue(cl, v1alpha1.ConditionReady) {
			return fmt.Errorf("conditions %+v", cl.Cellplane.Conditions)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s never replaced after the kill: %v\ncell log:\n%s", victim, err, cellLog(t, in))
	}
	t.Logf("%s replaced %s after the loss, across a kill; joining seen in status: %t", victim, time.Since(lostAt).Round(time.Millisecond), sawJoining)
	waitEtcdHealthy(ctx, t, in, name, nil, time.Now())
	checkConfigMaps(ctx, t, kc, "before", 5)
}

// TestEtcdQuorumLost deletes two members' data: etcd can never form a quorum
// again, so the cell restores it in place from the backups, reporting the
// cluster degraded until it is done, with every object the last incremental
// covered.
func TestEtcdQuorumLost(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.Start(ctx)
	createActive(ctx, t, in, "quorum")
	kc := kubeconfig(ctx, t, in, "quorum")
	waitBackupStatus(ctx, t, in, "quorum", "the first full", func(b *eks.Backup) bool { return b.LastFullTime != nil })
	last := createConfigMaps(ctx, t, kc, "before", 8)
	waitBackupStatus(ctx, t, in, "quorum", "backups covering revision "+fmt.Sprint(last), func(b *eks.Backup) bool { return b.Revision >= last })

	lostAt := time.Now()
	loseMembers(ctx, t, in, "quorum", "etcd-a", "etcd-b")
	// Kill cellplane and the cell as soon as the restore has begun, and start
	// them again: the restore resumes from what it recorded.
	dir := filepath.Join(filepath.Dir(etcdDataDir(in, "quorum", "etcd-a")), "restore-inplace")
	err := framework.Eventually(ctx, 2*time.Minute, 20*time.Millisecond, func() error {
		_, err := os.Stat(filepath.Join(dir, "job.json"))
		return err
	})
	if err != nil {
		t.Fatalf("the in-place restore did not begin: %v\ncell log:\n%s", err, cellLog(t, in))
	}
	killAll(t, in)
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	t.Logf("killed cellplane and its cell %s after the loss, with %v in the restore directory", time.Since(lostAt).Round(time.Millisecond), left)
	in.Start(ctx)
	var sawDegraded bool
	var restore *eks.Restore
	err = framework.Eventually(ctx, 3*time.Minute, 250*time.Millisecond, func() error {
		cl := describe(ctx, t, in, "quorum")
		if cl.Status != "ACTIVE" {
			return framework.Permanent(fmt.Errorf("cluster went %s: %s", cl.Status, cl.Cellplane.Reason))
		}
		if strings.Contains(cl.Cellplane.Reason, "degraded") && strings.Contains(cl.Cellplane.Reason, "restoring") {
			sawDegraded = true
		}
		restore = cl.Cellplane.Restore
		if restore == nil || restore.Phase != v1alpha1.RestorePhaseDone {
			return fmt.Errorf("restore %+v; reason %q", restore, cl.Cellplane.Reason)
		}
		if !conditionTrue(cl, v1alpha1.ConditionReady) {
			return fmt.Errorf("not ready: %s", cl.Cellplane.Reason)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("etcd never restored: %v\ncell log:\n%s", err, cellLog(t, in))
	}
	t.Logf("restored after %s: %+v", time.Since(lostAt).Round(time.Millisecond), *restore)
	if restore.Reason != v1alpha1.RestoreReasonQuorumLost || restore.Revision < last {
		t.Errorf("restore %+v: want reason QuorumLost up to at least revision %d", *restore, last)
	}
	if !sawDegraded {
		t.Errorf("the cluster never reported itself degraded while restoring")
	}
	if out, _, err := in.CLI(ctx, "cluster", "describe", "quorum"); err != nil || !regexp.MustCompile(`Restore:\s+Done \(QuorumLost\)`).MatchString(out) {
		t.Errorf("cluster describe does not show the restore (%v):\n%s", err, out)
	}
	checkConfigMaps(ctx, t, kc, "before", 8)
	if _, err := kubectl(ctx, kc, "create", "configmap", "after"); err != nil {
		t.Errorf("no write after the restore: %v", err)
	}
	waitEtcdHealthy(ctx, t, in, "quorum", nil, time.Now())
	// Backups go on after the restore: a new full, since the restore broke the chain.
	waitBackupStatus(ctx, t, in, "quorum", "a full after the restore", func(b *eks.Backup) bool {
		return b.LastFullRevision > etcdcare.DefaultBumpRevision
	})
}

// rvLog records what an informer delivered.
type rvLog struct {
	mu       sync.Mutex
	lastSync []int64            // the informer's LastSyncResourceVersion at each event
	objects  map[string][]int64 // resourceVersions seen per object
	names    map[string]bool    // objects in the informer's store, by the events
}

func (l *rvLog) record(inf cache.SharedIndexInformer, obj any, deleted bool) {
	cm, ok := obj.(*corev1.ConfigMap)
	if !ok {
		return // a tombstone: no resourceVersion to check
	}
	rv, _ := strconv.ParseInt(cm.ResourceVersion, 10, 64)
	synced, _ := strconv.ParseInt(inf.LastSyncResourceVersion(), 10, 64)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lastSync = append(l.lastSync, synced)
	l.objects[cm.Name] = append(l.objects[cm.Name], rv)
	l.names[cm.Name] = !deleted
}

func (l *rvLog) has(name string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.names[name]
}

// TestInPlaceRestoreInformer restores a running cluster in place with
// `backup restore` while an informer watches ConfigMaps through the endpoint:
// the informer keeps running and never sees a resourceVersion go backwards.
func TestInPlaceRestoreInformer(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	createActive(ctx, t, in, "inplace")
	kc := kubeconfig(ctx, t, in, "inplace")
	waitBackupStatus(ctx, t, in, "inplace", "the first full", func(b *eks.Backup) bool { return b.LastFullTime != nil })

	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace("default"))
	inf := factory.Core().V1().ConfigMaps().Informer()
	log := &rvLog{objects: map[string][]int64{}, names: map[string]bool{}}
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(o any) { log.record(inf, o, false) },
		UpdateFunc: func(_, o any) { log.record(inf, o, false) },
		DeleteFunc: func(o any) { log.record(inf, o, true) },
	}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	defer close(stop)
	factory.Start(stop)
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("informer never synced")
	}

	last := createConfigMaps(ctx, t, kc, "before", 6)
	waitBackupStatus(ctx, t, in, "inplace", "backups covering revision "+fmt.Sprint(last), func(b *eks.Backup) bool { return b.Revision >= last })
	syncBefore, _ := strconv.ParseInt(inf.LastSyncResourceVersion(), 10, 64)

	// Bad input first: refused with a clear error, nothing started.
	if _, errOut, err := in.CLI(ctx, "backup", "restore", "inplace"); err == nil || !strings.Contains(errOut, "--yes") {
		t.Errorf("backup restore without --yes: err %v, stderr %q; want a refusal naming --yes", err, errOut)
	}
	if _, errOut, err := in.CLI(ctx, "backup", "restore", "inplace", "--yes", "--revision", fmt.Sprint(last+1_000_000)); err == nil || !strings.Contains(errOut, "revision") {
		t.Errorf("backup restore to an uncovered revision: err %v, stderr %q", err, errOut)
	}
	if r := describe(ctx, t, in, "inplace").Cellplane.Restore; r != nil {
		t.Fatalf("a refused request started a restore: %+v", *r)
	}

	start := time.Now()
	out, errOut, err := in.CLI(ctx, "backup", "restore", "inplace", "--yes")
	if err != nil {
		t.Fatalf("backup restore: %v\n%s\ncell log:\n%s", err, errOut, cellLog(t, in))
	}
	t.Logf("backup restore took %s:\n%s%s", time.Since(start).Round(time.Millisecond), errOut, out)
	r := describe(ctx, t, in, "inplace").Cellplane.Restore
	if r == nil || r.Phase != v1alpha1.RestorePhaseDone || r.Reason != v1alpha1.RestoreReasonRequested || r.Revision < last {
		t.Fatalf("status.restore = %+v, want Done, Requested, up to revision %d at least", r, last)
	}

	// The restore reports Done once etcd holds the restored revision; the API
	// servers it stopped may still be coming back, and a write sent that moment
	// can meet a reset connection (kubectl does not retry a POST). The write
	// must land within a minute.
	err = framework.Eventually(ctx, time.Minute, 500*time.Millisecond, func() error {
		out, err := kubectl(ctx, kc, "create", "configmap", "after")
		if err != nil && strings.Contains(out+err.Error(), "already exists") {
			return nil // an earlier attempt landed but its answer was lost
		}
		return err
	})
	if err != nil {
		t.Fatalf("no write after the restore: %v", err)
	}
	err = framework.Eventually(ctx, 2*time.Minute, 250*time.Millisecond, func() error {
		if !log.has("after") {
			return fmt.Errorf("the informer has not delivered the configmap written after the restore")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkConfigMaps(ctx, t, kc, "before", 6)

	log.mu.Lock()
	defer log.mu.Unlock()
	for i := 1; i < len(log.lastSync); i++ {
		if log.lastSync[i] < log.lastSync[i-1] {
			t.Errorf("the informer's resourceVersion went back from %d to %d", log.lastSync[i-1], log.lastSync[i])
		}
	}
	for name, rvs := range log.objects {
		for i := 1; i < len(rvs); i++ {
			if rvs[i] < rvs[i-1] {
				t.Errorf("configmap %s went back from resourceVersion %d to %d", name, rvs[i-1], rvs[i])
			}
		}
	}
	after := log.objects["after"]
	if len(after) == 0 || after[0] <= syncBefore+etcdcare.DefaultBumpRevision/2 {
		t.Errorf("configmap written after the restore has resourceVersion %v, not bumped past %d", after, syncBefore)
	}
	for i := range 6 {
		if !log.names[fmt.Sprintf("before-%d", i)] {
			t.Errorf("the informer's view lacks before-%d after the restore", i)
		}
	}
	t.Logf("informer: %d events, resourceVersion %d before the restore, %d at the end", len(log.lastSync), syncBefore, log.lastSync[len(log.lastSync)-1])
}

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/etcdcare"
	"github.com/cellplane/cellplane/test/framework"
)

// plaintextMarker is written into ConfigMaps; no stored backup byte may show it.
const plaintextMarker = "cellplane-backup-plaintext-marker"

// TestBackupLocalDirectory backs a cluster up to the default storage,
// <data-dir>/backups, and checks the status, the CLI, encryption, tamper
// detection and the recovery point under steady writes.
func TestBackupLocalDirectory(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.Shared(ctx, t, bins)
	store, err := objstore.NewDir(filepath.Join(in.DataDir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	checkBackups(ctx, t, in, store)
	// Every object on disk is private to cellplane's user.
	_ = filepath.WalkDir(store.Root(), func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, _ := d.Info(); fi.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s has mode %v", p, fi.Mode())
			}
		}
		return nil
	})
}

// startBackingUpToMinIO starts a MinIO and an instance backing up to it
// under the prefix "cellplane", the S3 credentials in its environment.
func startBackingUpToMinIO(ctx context.Context, t *testing.T) (*framework.Instance, *framework.MinIO) {
	t.Helper()
	mbins, err := framework.MinIOBinaries(ctx)
	if err != nil {
		t.Fatal(err)
	}
	m := framework.StartMinIO(t, mbins)
	in := framework.NewInstance(t, bins)
	in.Args = []string{"--backup-s3-endpoint", m.Endpoint, "--backup-s3-region", m.Region,
		"--backup-s3-bucket", m.Bucket, "--backup-s3-prefix", "cellplane"}
	in.Env = []string{backup.EnvS3AccessKeyID + "=" + m.AccessKey, backup.EnvS3SecretAccessKey + "=" + m.SecretKey}
	in.Start(ctx)
	return in, m
}

// TestBackupMinIO backs a cluster up to a real S3 server.
func TestBackupMinIO(t *testing.T) {
	ctx := ctxFor(t)
	in, m := startBackingUpToMinIO(ctx, t)
	// The secret reaches the cell through its environment, never its arguments.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", in.CellPID(1)))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(cmdline, []byte(m.SecretKey)) || !bytes.Contains(cmdline, []byte(m.Bucket)) {
		t.Fatalf("cell arguments: %q", bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}))
	}
	store, err := objstore.NewS3(m.StoreConfig("cellplane"))
	if err != nil {
		t.Fatal(err)
	}
	loc := checkBackups(ctx, t, in, store)
	if !strings.HasPrefix(loc, "s3://"+m.Bucket+"/cellplane/clusters/") {
		t.Fatalf("backup location %q is not in the bucket", loc)
	}
}

// checkBackups runs the checks every storage must pass and returns the
// cluster's backup location.
func checkBackups(ctx context.Context, t *testing.T, in *framework.Instance, store objstore.Store) string {
	const name = "bk"
	createActive(ctx, t, in, name)
	kc := kubeconfig(ctx, t, in, name)
	var lastWrite int64
	for i := range 5 {
		out, err := kubectl(ctx, kc, "create", "configmap", fmt.Sprintf("bk-%d", i),
			"--from-literal=payload="+strings.Repeat(plaintextMarker, 20), "-o", "jsonpath={.metadata.resourceVersion}")
		if err != nil {
			t.Fatal(err)
		}
		// A resourceVersion is the etcd revision of the write.
		if lastWrite, err = strconv.ParseInt(strings.TrimSpace(out), 10, 64); err != nil {
			t.Fatalf("resourceVersion %q: %v", out, err)
		}
	}
	start := time.Now()
	st := waitBackupStatus(ctx, t, in, name, "a full and an incremental covering revision "+fmt.Sprint(lastWrite), func(b *eks.Backup) bool {
		return b.LastFullTime != nil && b.Revision >= lastWrite && b.Revision > b.LastFullRevision && b.RecoveryPointTime != nil
	})
	t.Logf("backups cover revision %d (last write %d) %s after the writes; full at %d, %d bytes, in %s",
		st.Revision, lastWrite, time.Since(start).Round(100*time.Millisecond), st.LastFullRevision, st.LastFullBytes, st.Location)

	set := checkBackupList(ctx, t, in, name, lastWrite)
	kms, err := envelope.NewLocalKMS(datadir.BackupKEKFile(in.DataDir))
	if err != nil {
		t.Fatal(err)
	}
	prefix := backup.ClusterPrefix(v1alpha1.Namespace(v1alpha1.DefaultAccount), name) + set.UID + "/"
	cat := backup.NewAt(store, kms, prefix)
	checkWritesInIncrementals(ctx, t, cat, lastWrite)
	checkEncrypted(ctx, t, store)
	checkTamperDetected(ctx, t, store, cat)
	checkBackupCreate(ctx, t, in, name)
	measureRecoveryPoint(ctx, t, in, name, kc)
	checkLatestPlan(ctx, t, in, name, cat)
	return st.Location
}

func waitBackupStatus(ctx context.Context, t *testing.T, in *framework.Instance, name, what string, ok func(*eks.Backup) bool) *eks.Backup {
	t.Helper()
	var st *eks.Backup
	err := framework.Eventually(ctx, 3*time.Minute, 500*time.Millisecond, func() error {
		cl, err := describeFull(ctx, in, name) // the location is the operator's to see
		if err != nil {
			return err
		}
		if cl.Cellplane == nil || cl.Cellplane.Backup == nil {
			return errors.New("no backup status yet")
		}
		st = cl.Cellplane.Backup
		if st.LastError != "" {
			return fmt.Errorf("backup error: %s", st.LastError)
		}
		if !ok(st) {
			return fmt.Errorf("backup status %+v", *st)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v\ncellplane log:\n%s", what, err, in.Log())
	}
	return st
}

// checkBackupList reads `backup list` in both formats.
func checkBackupList(ctx context.Context, t *testing.T, in *framework.Instance, name string, lastWrite int64) (set struct {
	UID      string
	Revision int64
	Backups  []struct {
		ID, Kind string
		Revision int64
		Bytes    int64
	}
}) {
	t.Helper()
	out, errOut, err := in.CLI(ctx, "backup", "list", name, "-o", "json")
	if err != nil {
		t.Fatalf("backup list: %v\n%s", err, errOut)
	}
	var resp struct{ Sets []json.RawMessage }
	if err := json.Unmarshal([]byte(out), &resp); err != nil || len(resp.Sets) != 1 {
		t.Fatalf("backup list -o json: %v\n%s", err, out)
	}
	if err := json.Unmarshal(resp.Sets[0], &set); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, b := range set.Backups {
		kinds[b.Kind]++
		if b.Bytes <= 0 {
			t.Errorf("backup %s has %d bytes", b.ID, b.Bytes)
		}
	}
	if kinds["full"] < 1 || kinds["incremental"] < 1 || set.Revision < lastWrite {
		t.Fatalf("backup list: %d fulls, %d incrementals, revision %d (want >= %d)\n%s", kinds["full"], kinds["incremental"], set.Revision, lastWrite, out)
	}
	table, _, err := in.CLI(ctx, "backup", "list", name)
	if err != nil || !strings.Contains(table, "incremental") || !strings.Contains(table, "recovery point") {
		t.Fatalf("backup list: %v\n%s", err, table)
	}
	lines := strings.Split(table, "\n")
	t.Logf("backup list (%d fulls, %d incrementals), first lines:\n%s", kinds["full"], kinds["incremental"], strings.Join(lines[:min(6, len(lines))], "\n"))
	return set
}

// checkWritesInIncrementals decrypts the incrementals through the catalog and
// finds the ConfigMaps written.
func checkWritesInIncrementals(ctx context.Context, t *testing.T, cat *backup.Set, lastWrite int64) {
	t.Helper()
	c, err := cat.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := c.Latest(); err != nil || p.Revision < lastWrite {
		t.Fatalf("latest restore plan %+v, %v; want revision >= %d", p, err, lastWrite)
	}
	if c.Fulls[0].Revision >= lastWrite {
		t.Logf("the first full already holds the writes (revision %d)", c.Fulls[0].Revision)
		return
	}
	for _, e := range c.Incrementals {
		data, err := cat.ReadAll(ctx, e)
		if err != nil {
			t.Fatalf("reading %s: %v", e.ID(), err)
		}
		var b etcdcare.Batch
		if err := b.UnmarshalBinary(data); err != nil {
			t.Fatalf("decoding %s: %v", e.ID(), err)
		}
		for _, ev := range b.Events {
			if strings.HasSuffix(string(ev.Kv.Key), "/configmaps/default/bk-4") {
				return
			}
		}
	}
	t.Fatalf("no incremental holds ConfigMap bk-4")
}

// checkEncrypted reads every stored object raw: none shows the ConfigMaps'
// content, and every backup object is in the envelope format.
func checkEncrypted(ctx context.Context, t *testing.T, store objstore.Store) {
	t.Helper()
	objs, err := store.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		data := get(ctx, t, store, o.Key)
		if bytes.Contains(data, []byte(plaintextMarker)) {
			t.Errorf("object %s holds plaintext", o.Key)
		}
		if strings.HasSuffix(o.Key, ".enc") && !bytes.HasPrefix(data, []byte("CPENV")) {
			t.Errorf("object %s is not sealed: starts %q", o.Key, data[:min(8, len(data))])
		}
	}
	t.Logf("%d stored objects, none in plaintext", len(objs))
}

func get(ctx context.Context, t *testing.T, store objstore.Store, key string) []byte {
	t.Helper()
	rc, err := store.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// checkTamperDetected flips one byte of the newest full in storage: the catalog
// reader must refuse it.
func checkTamperDetected(ctx context.Context, t *testing.T, store objstore.Store, cat *backup.Set) {
	t.Helper()
	c, err := cat.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	full := c.Fulls[len(c.Fulls)-1]
	if data, err := cat.ReadAll(ctx, full); err != nil || len(data) == 0 {
		t.Fatalf("reading full %s: %d bytes, %v", full.ID(), len(data), err)
	}
	key := cat.Prefix() + full.Key
	data := get(ctx, t, store, key)
	data[len(data)/2] ^= 0x40
	if err := store.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
	if _, err := cat.ReadAll(ctx, full); !errors.Is(err, backup.ErrCorrupt) {
		t.Fatalf("reading tampered full %s: %v, want ErrCorrupt", full.ID(), err)
	}
	t.Logf("tampered full %s detected", full.ID())
}

// checkBackupCreate takes an on-demand full.
func checkBackupCreate(ctx context.Context, t *testing.T, in *framework.Instance, name string) {
	t.Helper()
	before := describe(ctx, t, in, name).Cellplane.Backup
	start := time.Now()
	out, errOut, err := in.CLI(ctx, "backup", "create", name, "--wait", "--timeout", "3m")
	if err != nil {
		t.Fatalf("backup create: %v\n%s\n%s", err, out, errOut)
	}
	after := describe(ctx, t, in, name).Cellplane.Backup
	if !after.LastFullTime.Time().After(before.LastFullTime.Time()) || after.LastFullRevision < before.LastFullRevision {
		t.Fatalf("after backup create: full at %v revision %d; before %v revision %d",
			after.LastFullTime.Time(), after.LastFullRevision, before.LastFullTime.Time(), before.LastFullRevision)
	}
	t.Logf("backup create --wait took %s: %s", time.Since(start).Round(100*time.Millisecond), strings.TrimSpace(out))
}

// checkLatestPlan: after the on-demand full, taken beside the running tail, a
// restore to the newest revision starts from the newest full and reaches the
// revision the status reports.
func checkLatestPlan(ctx context.Context, t *testing.T, in *framework.Instance, name string, cat *backup.Set) {
	t.Helper()
	st := describe(ctx, t, in, name).Cellplane.Backup
	c, err := cat.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Latest()
	if err != nil || p.Full.Revision != c.Fulls[len(c.Fulls)-1].Revision || p.Revision < st.Revision {
		t.Fatalf("latest plan = full %d + %d incrementals to %d, %v; newest full %d, status revision %d",
			p.Full.Revision, len(p.Incrementals), p.Revision, err, c.Fulls[len(c.Fulls)-1].Revision, st.Revision)
	}
	t.Logf("latest restore plan: full %s + %d incrementals to revision %d (%d fulls, %d incrementals stored)",
		p.Full.ID(), len(p.Incrementals), p.Revision, len(c.Fulls), len(c.Incrementals))
}

// measureRecoveryPoint writes a ConfigMap every 200 ms for 20 s and samples
// now minus status.backup.recoveryPointTime through the regional API.
func measureRecoveryPoint(ctx context.Context, t *testing.T, in *framework.Instance, name, kc string) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kc)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cms := cs.CoreV1().ConfigMaps("default")
	if _, err := cms.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "rp"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	var writes, failed int
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(200 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-wctx.Done():
				return
			case <-tick.C:
			}
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "rp"}, Data: map[string]string{"n": strconv.Itoa(i)}}
			if _, err := cms.Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
				failed++
			}
			writes++
		}
	}()
	var lags []time.Duration
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for wctx.Err() == nil {
		select {
		case <-wctx.Done():
		case <-tick.C:
			cl, err := in.Client().DescribeCluster(ctx, name)
			if err == nil && cl.Cellplane != nil && cl.Cellplane.Backup != nil && cl.Cellplane.Backup.RecoveryPointTime != nil {
				lags = append(lags, time.Since(cl.Cellplane.Backup.RecoveryPointTime.Time()))
			}
		}
	}
	wg.Wait()
	if failed > 0 || len(lags) < 10 {
		t.Fatalf("%d of %d writes failed; %d recovery point samples", failed, writes, len(lags))
	}
	var worst, sum time.Duration
	for _, l := range lags {
		worst, sum = max(worst, l), sum+l
	}
	t.Logf("recovery point under %d writes in 20s (one per 200ms), seen through the regional API: max %s, mean %s over %d samples",
		writes, worst.Round(10*time.Millisecond), (sum / time.Duration(len(lags))).Round(10*time.Millisecond), len(lags))
	if worst > 30*time.Second {
		t.Fatalf("recovery point lagged %s", worst)
	}
}

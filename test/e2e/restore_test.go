package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/etcdcare"
	"github.com/cellplane/cellplane/test/framework"
)

// TestRestore restores a cluster's backups into a new cluster and finds every
// object written to the source, at resource versions above the source's; then
// checks what a restore refuses.
func TestRestore(t *testing.T) {
	ctx := ctxFor(t)
	in := framework.NewInstance(t, bins)
	in.Start(ctx)
	createActive(ctx, t, in, "src")
	srcKC := kubeconfig(ctx, t, in, "src")
	const ns = "restored-ns"
	if _, err := kubectl(ctx, srcKC, "create", "namespace", ns); err != nil {
		t.Fatal(err)
	}
	waitBackupStatus(ctx, t, in, "src", "the first full", func(b *eks.Backup) bool { return b.LastFullTime != nil })
	// cm-0..3 go into an on-demand full, cm-4..7 only into incrementals: the
	// restore needs both.
	srcRV := map[string]int64{}
	write := func(i int) int64 {
		name := fmt.Sprintf("cm-%d", i)
		out, err := kubectl(ctx, srcKC, "-n", ns, "create", "configmap", name,
			"--from-literal=i="+strconv.Itoa(i), "-o", "jsonpath={.metadata.resourceVersion}")
		if err != nil {
			t.Fatal(err)
		}
		rv, err := strconv.ParseInt(strings.TrimSpace(out), 10, 64)
		if err != nil {
			t.Fatalf("resourceVersion %q: %v", out, err)
		}
		srcRV[name] = rv
		return rv
	}
	for i := range 4 {
		write(i)
	}
	checkBackupCreate(ctx, t, in, "src")
	var lastWrite int64
	for i := 4; i < 8; i++ {
		lastWrite = write(i)
	}
	st := waitBackupStatus(ctx, t, in, "src", "backups covering revision "+fmt.Sprint(lastWrite), func(b *eks.Backup) bool {
		return b.Revision >= lastWrite
	})
	if st.LastFullRevision >= srcRV["cm-4"] {
		t.Fatalf("the newest full (revision %d) already holds cm-4 (%d): the incrementals are not exercised", st.LastFullRevision, srcRV["cm-4"])
	}

	start := time.Now()
	out, errOut, err := in.CLI(ctx, "cluster", "create", "dst", "--from-backup", "src", "--wait", "--output", "json")
	if err != nil {
		t.Fatalf("cluster create dst --from-backup src: %v\n%s\ncellplane log:\n%s", err, errOut, in.Log())
	}
	took := time.Since(start)
	var resp struct{ Cluster *eks.Cluster }
	if err := json.Unmarshal([]byte(out), &resp); err != nil || resp.Cluster == nil || resp.Cluster.Status != "ACTIVE" {
		t.Fatalf("create output: %v\n%s", err, out)
	}
	t.Logf("restore into dst ACTIVE after %s:\n%s", took.Round(100*time.Millisecond), errOut)
	checkRestoredCondition(t, describe(ctx, t, in, "dst"))
	dstKC := kubeconfig(ctx, t, in, "dst")
	dstRV, listRV := restoredConfigMaps(ctx, t, dstKC, ns)
	// Objects keep the revision they were written at; the restore moves the
	// cluster's revision past the source's by the bump, so what is written
	// after the full (replayed) and the list's resourceVersion are above
	// everything the source ever handed out.
	if listRV <= lastWrite+etcdcare.DefaultBumpRevision/2 {
		t.Errorf("dst lists configmaps at resourceVersion %d, not bumped above the source's %d", listRV, lastWrite)
	}
	for name, rv := range srcRV {
		d, ok := dstRV[name]
		switch {
		case !ok:
			t.Errorf("configmap %s (source revision %d) missing in dst; dst has %v", name, rv, dstRV)
		case rv > st.LastFullRevision && d <= lastWrite:
			t.Errorf("replayed configmap %s has resourceVersion %d in dst, not above the source's %d", name, d, lastWrite)
		case d < rv:
			t.Errorf("configmap %s has resourceVersion %d in dst, below the source's %d", name, d, rv)
		}
	}
	t.Logf("dst: %v (source: %v), list at %d", dstRV, srcRV, listRV)
	// The restored cluster serves writes.
	if _, err := kubectl(ctx, dstKC, "-n", ns, "create", "configmap", "after-restore"); err != nil {
		t.Fatal(err)
	}

	t.Run("to a revision", func(t *testing.T) {
		rev := srcRV["cm-5"]
		start := time.Now()
		if _, errOut, err := in.CLI(ctx, "cluster", "create", "dst-at", "--from-backup", "src", "--backup-revision", fmt.Sprint(rev), "--wait"); err != nil {
			t.Fatalf("cluster create dst-at: %v\n%s", err, errOut)
		}
		t.Logf("restore to revision %d ACTIVE after %s", rev, time.Since(start).Round(100*time.Millisecond))
		got, _ := restoredConfigMaps(ctx, t, kubeconfig(ctx, t, in, "dst-at"), ns)
		for i := range 8 {
			name := fmt.Sprintf("cm-%d", i)
			if _, ok := got[name]; ok != (i <= 5) {
				t.Errorf("restore to revision %d: %s present = %v; source wrote it at %d", rev, name, ok, srcRV[name])
			}
		}
	})

	t.Run("killed mid-restore", func(t *testing.T) {
		if _, err := in.Client().CreateCluster(ctx, client.CreateClusterInput{Name: "dst-crash", FromBackup: &eks.FromBackup{Cluster: "src"}}); err != nil {
			t.Fatal(err)
		}
		// Kill cellplane and the cell as soon as the restore has begun: where
		// exactly it stops varies, and every point must resume.
		dir := filepath.Join(in.DataDir, "cells", "cell-1", "clusters", v1alpha1.Namespace(v1alpha1.DefaultAccount), v1alpha1.ObjectName("dst-crash"), "restore")
		err := framework.Eventually(ctx, time.Minute, 20*time.Millisecond, func() error {
			_, err := os.Stat(filepath.Join(dir, "restore.json"))
			return err
		})
		if err != nil {
			t.Fatalf("the restore did not begin: %v", err)
		}
		cell := in.CellPID(1)
		in.Kill()
		if err := syscall.Kill(cell, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		var left []string
		for _, e := range entries {
			left = append(left, e.Name())
		}
		t.Logf("killed cellplane and cell-1 (pid %d) with %v in the restore directory", cell, left)
		in.Start(ctx)
		start := time.Now()
		err = framework.Eventually(ctx, 3*time.Minute, 500*time.Millisecond, func() error {
			cl, err := in.Client().DescribeCluster(ctx, "dst-crash")
			switch {
			case err != nil:
				return err
			case cl.Status == "FAILED":
				return framework.Permanent(fmt.Errorf("dst-crash FAILED: %+v", cl.Cellplane))
			case cl.Status != "ACTIVE":
				return fmt.Errorf("dst-crash is %s", cl.Status)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("dst-crash after the restart: %v\ncellplane log:\n%s", err, in.Log())
		}
		t.Logf("dst-crash ACTIVE %s after the restart", time.Since(start).Round(100*time.Millisecond))
		checkRestoredCondition(t, describe(ctx, t, in, "dst-crash"))
		got, _ := restoredConfigMaps(ctx, t, kubeconfig(ctx, t, in, "dst-crash"), ns)
		if len(got) != len(srcRV) {
			t.Fatalf("dst-crash has %v, want all of %v", got, srcRV)
		}
	})

	t.Run("no backups", func(t *testing.T) {
		// A cluster that never existed certainly has no backups.
		_, errOut, err := in.CLI(ctx, "cluster", "create", "from-nothing", "--from-backup", "never-existed", "--wait")
		if err == nil || !strings.Contains(errOut, "no backup of cluster never-existed in ") {
			t.Fatalf("want a failure naming the missing backups, got %v:\n%s", err, errOut)
		}
		cl := describe(ctx, t, in, "from-nothing")
		if cl.Status != v1alpha1.StatusFailed || cl.Cellplane == nil || !strings.Contains(cl.Cellplane.Reason, "no backup of cluster never-existed") {
			t.Fatalf("cluster from-nothing: %s %+v", cl.Status, cl.Cellplane)
		}
	})

	t.Run("invalid input", func(t *testing.T) {
		before, err := in.Client().ListAllClusters(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			from eks.FromBackup
			want string
		}{
			{eks.FromBackup{Cluster: "bad.name"}, `cellplane.fromBackup.cluster "bad.name" is not a valid cluster name`},
			{eks.FromBackup{Cluster: "src", Revision: -1}, "revision must be 0 (the newest covered) or a positive etcd revision; got -1"},
			{eks.FromBackup{Cluster: "src", Set: "../x"}, `cellplane.fromBackup.set "../x" is not a backup set UID`},
			{eks.FromBackup{Cluster: "invalid-in"}, "cannot be the cluster being created"},
		} {
			_, err := in.Client().CreateCluster(ctx, client.CreateClusterInput{Name: "invalid-in", FromBackup: &tc.from})
			if !errors.Is(err, errdefs.ErrInvalidParameter) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%+v: want InvalidParameterException mentioning %q, got %v", tc.from, tc.want, err)
			}
		}
		// The CLI shows the same message.
		_, errOut, err := in.CLI(ctx, "cluster", "create", "invalid-in", "--from-backup", "bad.name")
		if err == nil || !strings.Contains(errOut, "is not a valid cluster name") {
			t.Errorf("cluster create --from-backup bad.name: %v: %s", err, errOut)
		}
		if _, err := in.Client().DescribeCluster(ctx, "invalid-in"); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("describe invalid-in after refused creates: %v, want not found", err)
		}
		after, err := in.Client().ListAllClusters(ctx)
		if err != nil || len(after) != len(before) {
			t.Fatalf("invalid creates changed the cluster list: %v -> %v (%v)", before, after, err)
		}
	})
}

// restoredConfigMaps returns the resourceVersion of every ConfigMap in ns, and
// the list's, after checking each holds the data the source wrote.
func restoredConfigMaps(ctx context.Context, t *testing.T, kc, ns string) (map[string]int64, int64) {
	t.Helper()
	if _, err := kubectl(ctx, kc, "get", "namespace", ns); err != nil {
		t.Fatalf("namespace %s not restored: %v", ns, err)
	}
	// The raw list: kubectl's own lists carry no resourceVersion.
	out, err := kubectl(ctx, kc, "get", "--raw", "/api/v1/namespaces/"+ns+"/configmaps")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Metadata struct{ ResourceVersion string }
		Items    []struct {
			Metadata struct{ Name, ResourceVersion string }
			Data     map[string]string
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("configmap list: %v\n%s", err, out)
	}
	listRV, err := strconv.ParseInt(list.Metadata.ResourceVersion, 10, 64)
	if err != nil {
		t.Fatalf("list resourceVersion %q: %v", list.Metadata.ResourceVersion, err)
	}
	rvs := map[string]int64{}
	for _, cm := range list.Items {
		name := cm.Metadata.Name
		if !strings.HasPrefix(name, "cm-") {
			continue
		}
		rvs[name], _ = strconv.ParseInt(cm.Metadata.ResourceVersion, 10, 64)
		if want := strings.TrimPrefix(name, "cm-"); cm.Data["i"] != want {
			t.Errorf("configmap %s has i=%q, want %q", name, cm.Data["i"], want)
		}
	}
	return rvs, listRV
}

func checkRestoredCondition(t *testing.T, cl *eks.Cluster) {
	t.Helper()
	if cl.Cellplane == nil {
		t.Fatal("no cellplane status")
	}
	for _, c := range cl.Cellplane.Conditions {
		if c.Type == v1alpha1.ConditionRestored {
			if c.Status != "True" || !strings.Contains(c.Message, "restored from backup of cluster src") {
				t.Fatalf("Restored condition: %+v", c)
			}
			t.Logf("Restored: %s", c.Message)
			return
		}
	}
	t.Fatalf("no Restored condition in %+v", cl.Cellplane.Conditions)
}

package lifecycle

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/runtime/cgroup"
	"github.com/cellplane/cellplane/internal/runtime/tenantuser"
)

// TestReconcileIsolated runs a pass with isolation on the real store and the
// machine's real cgroups and file system (processes are the fake runner's):
// the members get the cluster's user, cgroup and host names, its files are
// laid out for that user, and deleting the cluster removes its cgroup.
func TestReconcileIsolated(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("isolation needs root")
	}
	cgroups, err := cgroup.Detect()
	if err != nil {
		t.Skipf("no cgroups here: %v", err)
	}
	ctx := context.Background()
	r, runner, bins := newReconciler(t)
	bins.root = t.TempDir()
	for _, b := range []string{"kubernetes/kube-apiserver", "kubernetes/kube-controller-manager", "kubernetes/kube-scheduler", "kubernetes/kubectl", "etcd/etcd"} {
		if err := os.MkdirAll(filepath.Join(bins.root, filepath.Dir(b)), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bins.root, b), nil, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	r.Layout.Isolation = &tenant.Isolation{Cgroups: cgroups, Limits: cgroup.DefaultLimits()}
	t.Cleanup(func() { _ = cgroups.RemovePrefix(tenant.CellCgroupPrefix(r.Layout.Cell)) })
	c := create(t, testCluster(t))

	if _, err := r.Reconcile(ctx, request(c)); err != nil {
		t.Fatal(err)
	}
	stored := get(t, r.Client, c)
	p := r.Layout.Addresses(stored)
	user := tenantuser.For(r.Layout.Cell.Octet(), int(*stored.Status.Slot))
	ensured, _ := runner.calls()
	// 3 etcd members, 2 each of the API server, its KMS plugin, the
	// controller-manager and the scheduler: every kind isolated alike.
	if len(ensured) != 11 {
		t.Fatalf("ensured %d processes, want 11", len(ensured))
	}
	for _, s := range ensured {
		if s.User == nil || s.User.UID != user.UID || s.Hostname != s.Name || s.Cgroup == nil {
			t.Errorf("%s: user %+v, host %q, cgroup %v; want %d, its member name, the cluster's", s.Name, s.User, s.Hostname, s.Cgroup, user.UID)
		}
		if strings.HasPrefix(s.Name, "etcd-") {
			if err := s.BeforeStart(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for path, want := range map[string]string{
		p.Dir():             "dir 0750 root",
		p.PKIDir():          "dir 0750 setgid root",
		p.Files().CAKey:     "file 0640 root",
		p.Files().EtcdCAKey: "file 0640 root",
		p.LogDir():          "dir 0770 sticky root",
		p.KMSDir():          "dir 0770 sticky root",
		p.EtcdDataDir(p.Members(controlplane.KindEtcd)[0]): "dir 0700 tenant",
	} {
		if got := describeFile(t, path, user.UID, user.GID); got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
	g := p.Isolation().Cgroup
	for _, d := range g.Dirs() {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("cgroup %s: %v", d, err)
		}
	}

	if err := r.Client.Delete(ctx, stored); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, request(c)); err != nil {
		t.Fatal(err)
	}
	for _, d := range g.Dirs() {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("cgroup %s left after delete: %v", d, err)
		}
	}
}

// describeFile says what path is, its mode and whether root or the tenant
// owns it, and fails unless its group is the tenant's.
func describeFile(t *testing.T, path string, uid, gid uint32) string {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Gid != gid {
		t.Errorf("%s: group %d, want the tenant's %d", path, st.Gid, gid)
	}
	out := "file"
	if fi.IsDir() {
		out = "dir"
	}
	out += " 0" + strconv.FormatUint(uint64(fi.Mode().Perm()), 8)
	if fi.Mode()&os.ModeSetgid != 0 {
		out += " setgid"
	}
	if fi.Mode()&os.ModeSticky != 0 {
		out += " sticky"
	}
	switch st.Uid {
	case 0:
		out += " root"
	case uid:
		out += " tenant"
	default:
		out += " owner " + strconv.Itoa(int(st.Uid))
	}
	return out
}

package secrets

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/kms/keyset"
	"github.com/cellplane/cellplane/internal/kms/plugin"
)

type harness struct {
	keys    *Keys
	store   objstore.Store
	bkms    envelope.KMS
	concern *Concern
	layout  tenant.Layout
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	dir := t.TempDir()
	keys, err := Open(filepath.Join(dir, "keys", "secrets-kek"))
	if err != nil {
		t.Fatal(err)
	}
	store, err := objstore.NewDir(filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	bkms, err := envelope.NewLocalKMS(filepath.Join(dir, "keys", "backup-kek"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := ipam.ParseBlock("127.249", 1)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{
		keys: keys, store: store, bkms: bkms,
		concern: &Concern{Keys: keys, Store: store, BackupKMS: bkms, Logger: slog.New(slog.DiscardHandler)},
		layout:  tenant.Layout{Dir: filepath.Join(dir, "cell"), Cell: b.Cell(1), SecretsKeys: keys.Encoded},
	}
}

func cluster(name string, slot int32) *v1alpha1.Cluster {
	return &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: "acct-000000000000", Name: name, UID: types.UID(name + "-uid"), Generation: 1},
		Spec:       v1alpha1.ClusterSpec{Name: name},
		Status:     v1alpha1.ClusterStatus{Slot: &slot},
	}
}

func (h *harness) plan(c *v1alpha1.Cluster) *controlplane.Plan {
	return h.layout.Plan(c, components.KubernetesBinaries{}, components.EtcdBinaries{})
}

// TestFirstPassMakesWrappedKeys: the first pass makes the keys and replans;
// the next plan hands them to the plugins; later passes change nothing.
func TestFirstPassMakesWrappedKeys(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := cluster("demo", 0)
	p := h.plan(c)
	if env := pluginEnv(p); env != "" {
		t.Fatalf("a plan made before the keys hands over %q", env)
	}
	if err := h.concern.Reconcile(ctx, c, p); !errors.Is(err, tenant.ErrReplan) {
		t.Fatalf("first Reconcile = %v, want ErrReplan", err)
	}
	set, err := h.keys.Load(ctx, p.Dir())
	if err != nil {
		t.Fatal(err)
	}
	checkCondition(t, c, metav1.ConditionTrue, set.Primary)
	fi, err := os.Stat(Path(p.Dir()))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keyset file: %v, mode %v", err, fi)
	}
	raw, _ := os.ReadFile(Path(p.Dir()))
	if bytes.Contains(raw, set.PrimaryKey().Secret) {
		t.Fatal("the keyset file holds the key in the clear")
	}

	p = h.plan(c)
	got, err := plugin.DecodeKeyset(pluginEnv(p))
	if err != nil || got.Primary != set.Primary {
		t.Fatalf("the replanned plugin gets %+v (%v), want key %s", got, err, set.Primary)
	}
	if err := h.concern.Reconcile(ctx, c, p); err != nil {
		t.Fatalf("second Reconcile = %v", err)
	}
	again, _ := h.keys.Load(ctx, p.Dir())
	if again.Primary != set.Primary || len(again.Keys) != 1 {
		t.Errorf("a later pass changed the keys: %+v", again)
	}
	data, err := h.keys.ForBackup(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := keyset.Unmarshal(data); err != nil || b.Primary != set.Primary {
		t.Errorf("ForBackup = %+v, %v", b, err)
	}
}

// TestLostKeysAreNotReplaced: a cluster that had keys and lost the file is
// reported; new keys would leave its Secrets unreadable without a word.
func TestLostKeysAreNotReplaced(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := cluster("demo", 4)
	p := h.plan(c)
	if err := h.concern.Reconcile(ctx, c, p); !errors.Is(err, tenant.ErrReplan) {
		t.Fatalf("first Reconcile = %v, want ErrReplan", err)
	}
	set, _ := h.keys.Load(ctx, p.Dir())
	if err := os.Remove(Path(p.Dir())); err != nil {
		t.Fatal(err)
	}
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); !errors.Is(err, errKeysLost) {
		t.Fatalf("Reconcile without the keys = %v, want errKeysLost", err)
	}
	checkCondition(t, c, metav1.ConditionFalse, set.Primary)
	if _, err := os.Stat(Path(p.Dir())); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("new keys were made in place of the lost ones: %v", err)
	}
}

// TestRestoreImportsSourceKeys: a cluster restored from a backup set gets
// the keys the set carries beside its own, once the restore has chosen it.
func TestRestoreImportsSourceKeys(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	src := keyset.New()
	ref := backup.Ref{Namespace: "acct-000000000000", Name: "src", UID: "src-uid"}
	data, err := src.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := backup.New(h.store, h.bkms, ref).PutSecretsKeys(ctx, data); err != nil {
		t.Fatal(err)
	}
	c := cluster("dst", 1)
	c.Spec.RestoreFrom = &v1alpha1.RestoreSource{Cluster: "src"}
	p := h.plan(c)
	// Before the restore chose its backups: only the cluster's own key.
	if err := h.concern.Reconcile(ctx, c, p); !errors.Is(err, tenant.ErrReplan) {
		t.Fatalf("Reconcile = %v, want ErrReplan", err)
	}
	own, _ := h.keys.Load(ctx, p.Dir())
	if own.Contains(src) {
		t.Fatal("the source's keys came before the restore chose its backups")
	}
	if err := etcdstate.For(p).SaveRestore(etcdstate.RestoreJob{Source: "src", Prefix: ref.Prefix()}); err != nil {
		t.Fatal(err)
	}
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); !errors.Is(err, tenant.ErrReplan) {
		t.Fatalf("Reconcile after the job = %v, want ErrReplan", err)
	}
	got, err := h.keys.Load(ctx, p.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if !got.Contains(src) || !got.Contains(own) || got.Primary != own.Primary {
		t.Fatalf("keys after the import: %+v; want the source's %s beside its own primary %s", got, src.Primary, own.Primary)
	}
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); err != nil {
		t.Fatalf("Reconcile once imported = %v", err)
	}
}

// TestInPlaceRestoreBringsBackRetiredKeys: an in-place restore may bring back
// Secrets sealed under a key retired since; the keys its set carries return.
func TestInPlaceRestoreBringsBackRetiredKeys(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := cluster("demo", 5)
	p := h.plan(c)
	if err := h.concern.Reconcile(ctx, c, p); !errors.Is(err, tenant.ErrReplan) {
		t.Fatal(err)
	}
	retired := keyset.New()
	ref := backup.Ref{Namespace: c.Namespace, Name: c.Name, UID: string(c.UID)}
	data, _ := retired.Marshal()
	if err := backup.New(h.store, h.bkms, ref).PutSecretsKeys(ctx, data); err != nil {
		t.Fatal(err)
	}
	if err := etcdstate.For(p).SaveInPlace(etcdstate.InPlaceJob{Reason: "Requested", Prefix: ref.Prefix(), StartedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	own, _ := h.keys.Load(ctx, p.Dir())
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); !errors.Is(err, tenant.ErrReplan) {
		t.Fatalf("Reconcile during an in-place restore = %v, want ErrReplan", err)
	}
	got, _ := h.keys.Load(ctx, p.Dir())
	if !got.Contains(retired) || got.Primary != own.Primary {
		t.Errorf("keys during the in-place restore: %+v; want %s back beside the primary %s", got, retired.Primary, own.Primary)
	}
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); err != nil {
		t.Errorf("Reconcile once imported = %v", err)
	}
}

// TestRestoreFromSetWithoutKeys: a source that predates encryption stored its
// Secrets in the clear; nothing to import, nothing fails.
func TestRestoreFromSetWithoutKeys(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := cluster("dst", 2)
	c.Spec.RestoreFrom = &v1alpha1.RestoreSource{Cluster: "old"}
	p := h.plan(c)
	ref := backup.Ref{Namespace: "acct-000000000000", Name: "old", UID: "old-uid"}
	if err := etcdstate.For(p).SaveRestore(etcdstate.RestoreJob{Source: "old", Prefix: ref.Prefix()}); err != nil {
		t.Fatal(err)
	}
	if err := h.concern.Reconcile(ctx, c, p); !errors.Is(err, tenant.ErrReplan) {
		t.Fatalf("Reconcile = %v, want ErrReplan (its own key made)", err)
	}
	if err := h.concern.Reconcile(ctx, c, h.plan(c)); err != nil {
		t.Fatalf("Reconcile = %v", err)
	}
}

// TestKeysUnderAnotherServiceKey: keys wrapped by a key the cell does not hold
// are reported and never replaced by new ones, which would lose every Secret.
func TestKeysUnderAnotherServiceKey(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t)
	c := cluster("demo", 3)
	p := h.plan(c)
	other, err := Open(filepath.Join(t.TempDir(), "other-kek"))
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Save(ctx, p.Dir(), keyset.New()); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(Path(p.Dir()))
	if err := h.concern.Reconcile(ctx, c, p); err == nil || errors.Is(err, tenant.ErrReplan) {
		t.Fatalf("Reconcile = %v, want an error", err)
	}
	checkCondition(t, c, metav1.ConditionFalse, "unwrapping")
	if after, _ := os.ReadFile(Path(p.Dir())); !bytes.Equal(before, after) {
		t.Error("the unreadable keyset was replaced")
	}
	if env := pluginEnv(h.plan(c)); env != "" {
		t.Errorf("the plugins get %q from keys the cell cannot read", env)
	}
}

func pluginEnv(p *controlplane.Plan) string {
	for _, e := range p.Spec(p.Members(controlplane.KindKMSPlugin)[0]).Env {
		if v, ok := bytes.CutPrefix([]byte(e), []byte(plugin.KeysetEnv+"=")); ok {
			return string(v)
		}
	}
	return ""
}

func checkCondition(t *testing.T, c *v1alpha1.Cluster, status metav1.ConditionStatus, msgPart string) {
	t.Helper()
	cond := meta.FindStatusCondition(c.Status.Conditions, ConditionSecretsEncryption)
	if cond == nil || cond.Status != status || !bytes.Contains([]byte(cond.Message), []byte(msgPart)) {
		t.Errorf("%s = %+v, want %s mentioning %q", ConditionSecretsEncryption, cond, status, msgPart)
	}
}

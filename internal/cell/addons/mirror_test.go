package addons

import (
	"context"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// regionStore is the region's store as the mirror sees it: only its client
// is used, and that is the real region store's.
type regionStore struct {
	cluster.Cluster
	client client.Client
}

func (r regionStore) GetClient() client.Client { return r.client }

// GetAPIReader reads live: the test's client has no cache in front.
func (r regionStore) GetAPIReader() client.Reader { return r.client }

type fixture struct {
	m            *Mirror
	region, cell client.Client
	ns           string
	uid          types.UID
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	reg, cell := stores.get(t)
	f := &fixture{region: reg.Client(t), cell: cell.Client(t), ns: reg.Namespace(t)}
	f.m = &Mirror{Region: regionStore{client: f.region}, Cell: f.cell, CellName: "cell-1"}
	c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "demo"},
		Spec: v1alpha1.ClusterSpec{Name: "demo", Version: "1.35", Cell: "cell-1"}}
	if err := f.region.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	f.uid = c.UID
	return f
}

func (f *fixture) addon(t *testing.T) *v1alpha1.Addon {
	t.Helper()
	a := &v1alpha1.Addon{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "demo-addon-coredns", Labels: map[string]string{
			v1alpha1.LabelCell: "cell-1", v1alpha1.LabelCluster: "demo", v1alpha1.LabelAccount: "000000000001",
		}, Finalizers: []string{v1alpha1.AddonFinalizer},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Cluster", Name: "demo", UID: f.uid}}},
		Spec: v1alpha1.AddonSpec{ClusterName: "demo", AddonName: "coredns", AddonVersion: "v1.15.0-eksbuild.1", ID: "id",
			ResolveConflicts: "NONE", CreatedAt: metav1.Now(), ModifiedAt: metav1.Now()},
	}
	if err := f.region.Create(context.Background(), a); err != nil {
		t.Fatal(err)
	}
	return a
}

func (f *fixture) reconcile(t *testing.T) {
	t.Helper()
	if _, err := f.m.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: f.ns, Name: "demo-addon-coredns"}}); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
}

func (f *fixture) get(t *testing.T, c client.Client) *v1alpha1.Addon {
	t.Helper()
	var a v1alpha1.Addon
	err := c.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: "demo-addon-coredns"}, &a)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return &a
}

// TestMirrorCopiesAndReportsBack: the cell's copy carries the region's spec
// and generation, and the cell's status reaches the region.
func TestMirrorCopiesAndReportsBack(t *testing.T) {
	f := newFixture(t)
	reg := f.addon(t)
	f.reconcile(t)
	cp := f.get(t, f.cell)
	if cp == nil || cp.Spec.AddonVersion != reg.Spec.AddonVersion || regionGeneration(cp) != reg.Generation || len(cp.Finalizers) != 0 {
		t.Fatalf("cell copy %+v", cp)
	}
	cp.Status = v1alpha1.AddonStatus{ObservedGeneration: reg.Generation, Result: v1alpha1.AddonApplied, EverApplied: true}
	if err := f.cell.Status().Update(context.Background(), cp); err != nil {
		t.Fatal(err)
	}
	f.reconcile(t)
	if got := f.get(t, f.region); got.Status.Result != v1alpha1.AddonApplied || got.Status.ObservedGeneration != reg.Generation {
		t.Fatalf("region status %+v", got.Status)
	}
}

// TestMirrorDeletes: a region add-on deleted with preserve has its copy
// deleted with preserve set, and keeps its finalizer until the copy is
// gone; an add-on whose cluster is gone goes at once.
func TestMirrorDeletes(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.addon(t)
	f.reconcile(t)
	cp := f.get(t, f.cell)
	controllerutil.AddFinalizer(cp, finalizer) // the Reconciler's
	if err := f.cell.Update(ctx, cp); err != nil {
		t.Fatal(err)
	}
	reg := f.get(t, f.region)
	reg.Spec.Preserve = true
	if err := f.region.Update(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if err := f.region.Delete(ctx, reg); err != nil {
		t.Fatal(err)
	}
	f.reconcile(t)
	cp = f.get(t, f.cell)
	if cp == nil || cp.DeletionTimestamp.IsZero() || !cp.Spec.Preserve {
		t.Fatalf("cell copy while the region's is deleted: %+v", cp)
	}
	if f.get(t, f.region) == nil {
		t.Fatal("the region add-on went before its objects were let go")
	}
	controllerutil.RemoveFinalizer(cp, finalizer)
	if err := f.cell.Update(ctx, cp); err != nil {
		t.Fatal(err)
	}
	f.reconcile(t)
	if f.get(t, f.cell) != nil || f.get(t, f.region) != nil {
		t.Fatal("an add-on stayed after its copy was released")
	}

	// The cluster goes: its add-on goes with it, finalizer and all.
	f.addon(t)
	c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "demo"}}
	if err := f.region.Delete(ctx, c); err != nil {
		t.Fatal(err)
	}
	f.reconcile(t)
	if f.get(t, f.region) != nil || f.get(t, f.cell) != nil {
		t.Fatal("the add-on of a deleted cluster stayed")
	}
}

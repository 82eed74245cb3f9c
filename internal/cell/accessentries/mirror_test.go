package accessentries

import (
	"context"
	"reflect"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"

	"k8s.io/apimachinery/pkg/types"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// regionStore is the region's store as the mirror sees it: only its client
// is used, and that is the real region store's.
type regionStore struct {
	cluster.Cluster
	client client.Client
}

func (r regionStore) GetClient() client.Client { return r.client }

type fixture struct {
	m            *Mirror
	region, cell client.Client
	ns           string
	uid          types.UID // of the region's cluster
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	reg, cell := stores.get(t)
	f := &fixture{region: reg.Client(t), cell: cell.Client(t), ns: reg.Namespace(t)}
	f.m = &Mirror{Region: regionStore{client: f.region}, Cell: f.cell, CellName: "cell-1"}
	return f
}

// cluster stores the region's cluster "demo" the entries belong to.
func (f *fixture) cluster(t *testing.T) *v1alpha1.Cluster {
	t.Helper()
	c := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "demo"},
		Spec: v1alpha1.ClusterSpec{Name: "demo", Version: "1.35", Cell: "cell-1"}}
	if err := f.region.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	f.uid = c.UID
	return c
}

func (f *fixture) entry(t *testing.T, name, cell string) *v1alpha1.AccessEntry {
	t.Helper()
	now := metav1.Now()
	e := &v1alpha1.AccessEntry{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: name, Labels: map[string]string{
			v1alpha1.LabelCell: cell, v1alpha1.LabelCluster: "demo", v1alpha1.LabelAccount: "000000000001",
		}, OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Cluster", Name: "demo", UID: f.uid}}},
		Spec: v1alpha1.AccessEntrySpec{
			ClusterName: "demo", PrincipalARN: "arn:aws:iam::000000000001:user/" + name, Type: "STANDARD",
			Username: "u", KubernetesGroups: []string{"devs"}, CreatedAt: now, ModifiedAt: now,
			AccessPolicies: []v1alpha1.AssociatedAccessPolicy{{
				PolicyARN: "arn:aws:eks::aws:cluster-access-policy/AmazonEKSViewPolicy",
				Scope:     v1alpha1.AccessScope{Type: "namespace", Namespaces: []string{"team-a"}}, AssociatedAt: now, ModifiedAt: now,
			}},
		},
	}
	if err := f.region.Create(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *fixture) reconcile(t *testing.T, name string) {
	t.Helper()
	if _, err := f.m.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: f.ns, Name: name}}); err != nil {
		t.Fatalf("reconcile %s: %v", name, err)
	}
}

// cellCopy returns the cell's copy, nil when there is none.
func (f *fixture) cellCopy(t *testing.T, name string) *v1alpha1.AccessEntry {
	t.Helper()
	var e v1alpha1.AccessEntry
	err := f.cell.Get(context.Background(), client.ObjectKey{Namespace: f.ns, Name: name}, &e)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return &e
}

func TestMirrorCopiesUpdatesAndDeletes(t *testing.T) {
	f := newFixture(t)
	f.cluster(t)
	reg := f.entry(t, "ae-1", "cell-1")
	f.reconcile(t, "ae-1") // creates the namespace in the cell too
	got := f.cellCopy(t, "ae-1")
	if got == nil || !reflect.DeepEqual(got.Spec, reg.Spec) || !reflect.DeepEqual(got.Labels, reg.Labels) {
		t.Fatalf("cell copy %+v, want spec %+v", got, reg.Spec)
	}
	if len(got.OwnerReferences) != 0 {
		t.Fatalf("the copy names the region's owner: %v", got.OwnerReferences)
	}

	reg.Spec.AccessPolicies = nil
	reg.Spec.Username = "renamed"
	if err := f.region.Update(context.Background(), reg); err != nil {
		t.Fatal(err)
	}
	f.reconcile(t, "ae-1")
	if got := f.cellCopy(t, "ae-1"); got.Spec.Username != "renamed" || len(got.Spec.AccessPolicies) != 0 {
		t.Fatalf("after the region's update: %+v", got.Spec)
	}

	if err := f.region.Delete(context.Background(), reg); err != nil {
		t.Fatal(err)
	}
	f.reconcile(t, "ae-1")
	if got := f.cellCopy(t, "ae-1"); got != nil {
		t.Fatal("the cell kept an entry the region deleted")
	}
	f.reconcile(t, "ae-1") // nothing left on either side: no error
}

func TestMirrorKeepsOnlyItsCellsEntries(t *testing.T) {
	f := newFixture(t)
	f.cluster(t)
	f.entry(t, "ae-mine", "cell-1")
	f.entry(t, "ae-other", "cell-2")
	f.reconcile(t, "ae-mine")
	f.reconcile(t, "ae-other")
	if f.cellCopy(t, "ae-mine") == nil || f.cellCopy(t, "ae-other") != nil {
		t.Fatal("mirrored the wrong entries")
	}
	// An entry left in the cell whose region copy is gone (deleted while
	// the mirror was down) goes when the mirror sees it.
	orphan := &v1alpha1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "ae-orphan"},
		Spec: v1alpha1.AccessEntrySpec{ClusterName: "demo", PrincipalARN: "arn:aws:iam::000000000001:user/x", Type: "STANDARD", Username: "x",
			CreatedAt: metav1.Now(), ModifiedAt: metav1.Now()}}
	if err := f.cell.Create(context.Background(), orphan); err != nil {
		t.Fatal(err)
	}
	f.reconcile(t, "ae-orphan")
	if f.cellCopy(t, "ae-orphan") != nil {
		t.Fatal("the orphaned copy stayed")
	}
}

func TestMirrorDropsEntriesOfGoneOrOtherClusters(t *testing.T) {
	f := newFixture(t)
	c := f.cluster(t)
	f.entry(t, "ae-live", "cell-1")
	f.reconcile(t, "ae-live")
	if f.cellCopy(t, "ae-live") == nil {
		t.Fatal("the entry of a live cluster was not copied")
	}
	// The cluster is deleted and created again under its name: the old
	// entry, left behind, must not count for the new cluster.
	if err := f.region.Delete(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	f.reconcile(t, "ae-live")
	if f.cellCopy(t, "ae-live") != nil {
		t.Fatal("the entry of a deleted cluster stayed in the cell")
	}
	f.cluster(t)
	f.reconcile(t, "ae-live")
	if f.cellCopy(t, "ae-live") != nil {
		t.Fatal("an earlier cluster's entry was copied for the new one")
	}
}

func TestMirrorMapsAClusterToItsEntries(t *testing.T) {
	f := newFixture(t)
	c := f.cluster(t)
	f.entry(t, "ae-a", "cell-1")
	f.entry(t, "ae-b", "cell-1")
	var got []string
	for _, r := range f.m.entriesOf(context.Background(), c) {
		got = append(got, r.Name)
	}
	if !reflect.DeepEqual(got, []string{"ae-a", "ae-b"}) {
		t.Fatalf("requests for cluster demo: %v", got)
	}
}

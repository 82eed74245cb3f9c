package agent

import (
	"context"
	"log/slog"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/cluster"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

var discard = slog.New(slog.DiscardHandler)

func TestKubeconfigOwner(t *testing.T) {
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   []ctrl.Request
	}{
		{"labelled", map[string]string{v1alpha1.LabelKubeconfigFor: "demo"},
			[]ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: "acct-1", Name: "demo"}}}},
		{"other labels", map[string]string{"app": "x"}, nil},
		{"no labels", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "acct-1", Name: "whatever", Labels: tc.labels}}
			if got := kubeconfigOwner(context.Background(), s); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("kubeconfigOwner = %v, want %v", got, tc.want)
			}
		})
	}
}

// fakeRegion is the region's store as the agent sees it: only its client is
// used, and that is the real region store's.
type fakeRegion struct {
	cluster.Cluster
	client client.Client
}

func (f fakeRegion) GetClient() client.Client { return f.client }

// agentFixture is an agent of cell-1 between the two stores, and the
// account namespace its test works in, in both stores.
type agentFixture struct {
	a      *Agent
	region client.Client
	cell   client.Client
	ns     string
}

// newAgent returns an agent of cell-1 whose region client is region (the
// region store's, or a wrapper of it). The account's namespace exists in
// the region; in the cell only when cellNS is set, as after an earlier pass.
func newAgent(t *testing.T, region client.Client, cellNS bool) *agentFixture {
	t.Helper()
	ns := regionEnv(t).Namespace(t)
	if cellNS {
		cellEnv(t).Create(t, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	cell := cellEnv(t).Client(t)
	return &agentFixture{
		a:      &Agent{Region: fakeRegion{client: region}, Cell: cell, CellName: "cell-1"},
		region: region, cell: cell, ns: ns,
	}
}

// regionCluster is the region's object of a cluster placed on cell-1.
func (f *agentFixture) regionCluster(mods ...func(*v1alpha1.Cluster)) *v1alpha1.Cluster {
	c := &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: f.ns, Name: "demo",
			Labels:     map[string]string{v1alpha1.LabelCell: "cell-1", v1alpha1.LabelAccount: v1alpha1.DefaultAccount},
			Finalizers: []string{v1alpha1.RegionFinalizer}},
		Spec: v1alpha1.ClusterSpec{Name: "demo", Version: "1.35", Cell: "cell-1", Tags: map[string]string{"team": "a"}},
	}
	for _, m := range mods {
		m(c)
	}
	return c
}

// inRegion stores c in the region; both stores delete their copy of the
// cluster when t ends, the cell's because the heartbeat tests count every
// cluster of the cell's store.
func (f *agentFixture) inRegion(t *testing.T, c *v1alpha1.Cluster) *v1alpha1.Cluster {
	t.Helper()
	regionEnv(t).CreateWithStatus(t, c)
	regionEnv(t).DeleteOnCleanup(t, c)
	cellEnv(t).DeleteOnCleanup(t, c)
	return c
}

// inCell stores c with its status in the cell, as the agent and the cell's
// controllers would have.
func (f *agentFixture) inCell(t *testing.T, c *v1alpha1.Cluster) *v1alpha1.Cluster {
	t.Helper()
	cellEnv(t).CreateWithStatus(t, c)
	cellEnv(t).DeleteOnCleanup(t, c)
	return c
}

func kubeconfigSecret(c *v1alpha1.Cluster) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Namespace: c.Namespace, Name: v1alpha1.KubeconfigSecretName(c.Name),
		Labels: map[string]string{v1alpha1.LabelKubeconfigFor: c.Name},
	}}
}

func request(c *v1alpha1.Cluster) ctrl.Request {
	return ctrl.Request{NamespacedName: client.ObjectKeyFromObject(c)}
}

func get(t *testing.T, cl client.Client, c *v1alpha1.Cluster) *v1alpha1.Cluster {
	t.Helper()
	out := &v1alpha1.Cluster{}
	if err := cl.Get(context.Background(), client.ObjectKeyFromObject(c), out); err != nil {
		t.Fatalf("reading cluster: %v", err)
	}
	return out
}

func slotPtr(s int32) *int32 { return &s }

func reconcileAgent(t *testing.T, a *Agent, c *v1alpha1.Cluster) ctrl.Result {
	t.Helper()
	res, err := a.Reconcile(context.Background(), request(c))
	if err != nil {
		t.Fatalf("agent Reconcile: %v", err)
	}
	return res
}

func TestAgentPullsSpec(t *testing.T) {
	f := newAgent(t, regionEnv(t).Client(t), false)
	reg := f.inRegion(t, f.regionCluster())
	reconcileAgent(t, f.a, reg)
	if err := f.cell.Get(context.Background(), client.ObjectKey{Name: reg.Namespace}, &corev1.Namespace{}); err != nil {
		t.Errorf("account namespace not created in the cell: %v", err)
	}
	got := get(t, f.cell, reg)
	if !reflect.DeepEqual(got.Spec, reg.Spec) || !reflect.DeepEqual(got.Labels, reg.Labels) {
		t.Errorf("cell copy = %+v %v, want %+v %v", got.Spec, got.Labels, reg.Spec, reg.Labels)
	}

	// A spec change in the region reaches the cell.
	upd := get(t, f.region, reg)
	upd.Spec.Tags = map[string]string{"team": "b"}
	if err := f.region.Update(context.Background(), upd); err != nil {
		t.Fatal(err)
	}
	reconcileAgent(t, f.a, reg)
	if got := get(t, f.cell, reg); got.Spec.Tags["team"] != "b" {
		t.Errorf("cell copy tags = %v after the region changed them", got.Spec.Tags)
	}
}

func TestAgentIgnoresOtherCells(t *testing.T) {
	f := newAgent(t, regionEnv(t).Client(t), false)
	reg := f.inRegion(t, f.regionCluster(func(c *v1alpha1.Cluster) { c.Spec.Cell = "cell-2" }))
	reconcileAgent(t, f.a, reg)
	if err := f.cell.Get(context.Background(), client.ObjectKeyFromObject(reg), &v1alpha1.Cluster{}); !apierrors.IsNotFound(err) {
		t.Fatalf("cell-1 copied a cluster of cell-2: %v", err)
	}
}

func TestAgentPushesStatusAndKubeconfig(t *testing.T) {
	ctx := context.Background()
	f := newAgent(t, regionEnv(t).Client(t), true)
	reg := f.inRegion(t, f.regionCluster())
	cellCopy := f.inCell(t, f.regionCluster(func(c *v1alpha1.Cluster) {
		c.Finalizers = []string{v1alpha1.CellFinalizer}
		c.Status = v1alpha1.ClusterStatus{
			Status: v1alpha1.StatusActive, Slot: slotPtr(4), Endpoint: "https://127.251.128.5:6443",
			KubernetesVersion: "v1.35.4",
		}
	}))
	secret := kubeconfigSecret(cellCopy)
	secret.Type = corev1.SecretTypeOpaque
	secret.Data = map[string][]byte{v1alpha1.KubeconfigSecretKey: []byte("apiVersion: v1\n")}
	cellEnv(t).Create(t, secret)
	reconcileAgent(t, f.a, reg)

	if got := get(t, f.region, reg).Status; !reflect.DeepEqual(got, cellCopy.Status) {
		t.Errorf("region status = %+v, want the cell's %+v", got, cellCopy.Status)
	}
	pub := &corev1.Secret{}
	if err := f.region.Get(ctx, client.ObjectKeyFromObject(secret), pub); err != nil {
		t.Fatalf("kubeconfig not published to the region: %v", err)
	}
	if !reflect.DeepEqual(pub.Data, secret.Data) || pub.Labels[v1alpha1.LabelKubeconfigFor] != reg.Name || pub.Type != secret.Type {
		t.Errorf("published secret = %+v", pub)
	}
}

func TestAgentReleasesDeletedCluster(t *testing.T) {
	ctx := context.Background()
	f := newAgent(t, regionEnv(t).Client(t), true)
	// A deleting cluster: created with its finalizer, then deleted, it stays
	// until the agent lets it go.
	reg := f.inRegion(t, f.regionCluster())
	if err := f.region.Delete(ctx, reg); err != nil {
		t.Fatal(err)
	}
	regSecret := kubeconfigSecret(reg)
	regionEnv(t).Create(t, regSecret)
	// The cell's copy carries the cell finalizer: it goes away only once the cell
	// controller has torn the control plane down.
	cellCopy := f.inCell(t, f.regionCluster(func(c *v1alpha1.Cluster) {
		c.Finalizers = []string{v1alpha1.CellFinalizer}
		c.Status.Status = v1alpha1.StatusActive
	}))
	update := func(name, cluster string) *v1alpha1.ClusterUpdate {
		return &v1alpha1.ClusterUpdate{ObjectMeta: metav1.ObjectMeta{Namespace: reg.Namespace, Name: name,
			Labels: map[string]string{v1alpha1.LabelCluster: cluster}},
			Spec: v1alpha1.ClusterUpdateSpec{ID: name, ClusterName: cluster, Type: v1alpha1.UpdateTypeVersion}}
	}
	mine, others := update(reg.Name+"-1", reg.Name), update("other-1", "other")
	regionEnv(t).Create(t, mine, others)
	entry := func(name, cluster string) *v1alpha1.AccessEntry {
		return &v1alpha1.AccessEntry{ObjectMeta: metav1.ObjectMeta{Namespace: reg.Namespace, Name: name,
			Labels: map[string]string{v1alpha1.LabelCluster: cluster}},
			Spec: v1alpha1.AccessEntrySpec{ClusterName: cluster, PrincipalARN: "arn:aws:iam::000000000000:user/a", Type: "STANDARD",
				Username: "a", CreatedAt: metav1.Now(), ModifiedAt: metav1.Now()}}
	}
	myEntry, otherEntry := entry("ae-mine", reg.Name), entry("ae-other", "other")
	regionEnv(t).Create(t, myEntry, otherEntry)

	res := reconcileAgent(t, f.a, reg)
	if res.RequeueAfter != time.Second {
		t.Errorf("result = %+v, want a requeue while the cell tears down", res)
	}
	c := get(t, f.cell, cellCopy)
	if c.DeletionTimestamp.IsZero() {
		t.Fatal("the cell's copy was not deleted")
	}
	if s := get(t, f.region, reg).Status.Status; s != v1alpha1.StatusActive {
		t.Errorf("region status = %q, want the cell's status mirrored while deleting", s)
	}

	// The cell controller finishes its teardown and drops its finalizer.
	c.Finalizers = nil
	if err := f.cell.Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	if res := reconcileAgent(t, f.a, reg); res != (ctrl.Result{}) {
		t.Errorf("result = %+v once the cell is done", res)
	}
	if err := f.region.Get(ctx, client.ObjectKeyFromObject(regSecret), &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("region kubeconfig: %v, want it deleted", err)
	}
	if err := f.region.Get(ctx, client.ObjectKeyFromObject(reg), &v1alpha1.Cluster{}); !apierrors.IsNotFound(err) {
		t.Errorf("region cluster: %v, want it released", err)
	}
	if err := f.region.Get(ctx, client.ObjectKeyFromObject(mine), &v1alpha1.ClusterUpdate{}); !apierrors.IsNotFound(err) {
		t.Errorf("the cluster's update record: %v, want it deleted", err)
	}
	if err := f.region.Get(ctx, client.ObjectKeyFromObject(others), &v1alpha1.ClusterUpdate{}); err != nil {
		t.Errorf("another cluster's update record was touched: %v", err)
	}
	if err := f.region.Get(ctx, client.ObjectKeyFromObject(myEntry), &v1alpha1.AccessEntry{}); !apierrors.IsNotFound(err) {
		t.Errorf("the cluster's access entry: %v, want it deleted", err)
	}
	if err := f.region.Get(ctx, client.ObjectKeyFromObject(otherEntry), &v1alpha1.AccessEntry{}); err != nil {
		t.Errorf("another cluster's access entry was touched: %v", err)
	}
}

func TestAgentDeletesOrphanedCopy(t *testing.T) {
	f := newAgent(t, regionEnv(t).Client(t), true)
	// The region's object vanished without its finalizer running (removed by hand).
	cellCopy := f.inCell(t, f.regionCluster(func(c *v1alpha1.Cluster) { c.Finalizers = nil }))
	reconcileAgent(t, f.a, cellCopy)
	if err := f.cell.Get(context.Background(), client.ObjectKeyFromObject(cellCopy), &v1alpha1.Cluster{}); !apierrors.IsNotFound(err) {
		t.Fatalf("orphaned cell copy: %v, want it deleted", err)
	}
	reconcileAgent(t, f.a, cellCopy) // and again, with nothing left to delete
}

// TestAgentPublishesKubeconfigBeforeActive: a client that sees ACTIVE asks for the
// kubeconfig next, so the region must never show ACTIVE without it.
func TestAgentPublishesKubeconfigBeforeActive(t *testing.T) {
	refuseSecrets := interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		if _, ok := obj.(*corev1.Secret); ok {
			return apierrors.NewServiceUnavailable("region store overloaded")
		}
		return c.Create(ctx, obj, opts...)
	}}
	f := newAgent(t, interceptor.NewClient(regionEnv(t).Client(t), refuseSecrets), true)
	reg := f.inRegion(t, f.regionCluster())
	cellCopy := f.inCell(t, f.regionCluster(func(c *v1alpha1.Cluster) {
		c.Finalizers = []string{v1alpha1.CellFinalizer}
		c.Status = v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive, Slot: slotPtr(4)}
	}))
	secret := kubeconfigSecret(cellCopy)
	secret.Data = map[string][]byte{v1alpha1.KubeconfigSecretKey: []byte("apiVersion: v1\n")}
	cellEnv(t).Create(t, secret)
	if _, err := f.a.Reconcile(context.Background(), request(reg)); err == nil {
		t.Fatal("want the failed kubeconfig publication reported")
	}
	if got := get(t, f.region, reg).Status.Status; got == v1alpha1.StatusActive {
		t.Fatal("the region shows ACTIVE while the kubeconfig could not be published")
	}
}

// Of the annotations, the cell acts on the backup and restore requests: those
// alone are copied, and removed again when the region drops them.
func TestAgentCopiesBackupRequestOnly(t *testing.T) {
	f := newAgent(t, regionEnv(t).Client(t), false)
	reg := f.inRegion(t, f.regionCluster(func(c *v1alpha1.Cluster) {
		c.Annotations = map[string]string{v1alpha1.AnnotationBackupRequested: "2026-01-02T03:04:05Z", "other": "x"}
	}))
	reconcileAgent(t, f.a, reg)
	got := get(t, f.cell, reg)
	if got.Annotations[v1alpha1.AnnotationBackupRequested] != "2026-01-02T03:04:05Z" || got.Annotations["other"] != "" {
		t.Fatalf("cell copy annotations = %v", got.Annotations)
	}
	upd := get(t, f.region, reg)
	upd.Annotations = nil
	if err := f.region.Update(context.Background(), upd); err != nil {
		t.Fatal(err)
	}
	reconcileAgent(t, f.a, reg)
	if got := get(t, f.cell, reg); got.Annotations[v1alpha1.AnnotationBackupRequested] != "" {
		t.Fatalf("request annotation kept after the region dropped it: %v", got.Annotations)
	}
}

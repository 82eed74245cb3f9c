package cell

import (
	"context"
	"log/slog"
	"reflect"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

func TestKubeconfigOwner(t *testing.T) {
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   []ctrl.Request
	}{
		{"labelled", map[string]string{LabelKubeconfigFor: "demo"},
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

// fakeRegion is the region's store as the agent sees it: only its client is used.
type fakeRegion struct {
	cluster.Cluster
	client client.Client
}

func (f fakeRegion) GetClient() client.Client { return f.client }

func newAgent(t *testing.T, region, cell []client.Object) *Agent {
	t.Helper()
	return &Agent{
		Region: fakeRegion{client: newFakeClient(t, region...)}, Cell: newFakeClient(t, cell...),
		CellName: "cell-1", Logger: slog.New(slog.DiscardHandler),
	}
}

// regionCluster is the region's object of a cluster placed on cell-1.
func regionCluster(mods ...func(*v1alpha1.Cluster)) *v1alpha1.Cluster {
	return testCluster(append([]func(*v1alpha1.Cluster){func(c *v1alpha1.Cluster) {
		c.Labels = map[string]string{v1alpha1.LabelCell: "cell-1", v1alpha1.LabelAccount: v1alpha1.DefaultAccount}
		c.Spec.Tags = map[string]string{"team": "a"}
		c.Finalizers = []string{v1alpha1.RegionFinalizer}
	}}, mods...)...)
}

func reconcileAgent(t *testing.T, a *Agent, c *v1alpha1.Cluster) ctrl.Result {
	t.Helper()
	res, err := a.Reconcile(context.Background(), request(c))
	if err != nil {
		t.Fatalf("agent Reconcile: %v", err)
	}
	return res
}

func TestAgentPullsSpec(t *testing.T) {
	reg := regionCluster()
	a := newAgent(t, []client.Object{reg}, nil)
	reconcileAgent(t, a, reg)
	if err := a.Cell.Get(context.Background(), client.ObjectKey{Name: reg.Namespace}, &corev1.Namespace{}); err != nil {
		t.Errorf("account namespace not created in the cell: %v", err)
	}
	got := get(t, a.Cell, reg)
	if !reflect.DeepEqual(got.Spec, reg.Spec) || !reflect.DeepEqual(got.Labels, reg.Labels) {
		t.Errorf("cell copy = %+v %v, want %+v %v", got.Spec, got.Labels, reg.Spec, reg.Labels)
	}

	// A spec change in the region reaches the cell.
	upd := get(t, a.Region.GetClient(), reg)
	upd.Spec.Tags = map[string]string{"team": "b"}
	if err := a.Region.GetClient().Update(context.Background(), upd); err != nil {
		t.Fatal(err)
	}
	reconcileAgent(t, a, reg)
	if got := get(t, a.Cell, reg); got.Spec.Tags["team"] != "b" {
		t.Errorf("cell copy tags = %v after the region changed them", got.Spec.Tags)
	}
}

func TestAgentIgnoresOtherCells(t *testing.T) {
	reg := regionCluster(func(c *v1alpha1.Cluster) { c.Spec.Cell = "cell-2" })
	a := newAgent(t, []client.Object{reg}, nil)
	reconcileAgent(t, a, reg)
	if err := a.Cell.Get(context.Background(), client.ObjectKeyFromObject(reg), &v1alpha1.Cluster{}); !apierrors.IsNotFound(err) {
		t.Fatalf("cell-1 copied a cluster of cell-2: %v", err)
	}
}

func TestAgentPushesStatusAndKubeconfig(t *testing.T) {
	ctx := context.Background()
	reg := regionCluster()
	cellCopy := regionCluster(func(c *v1alpha1.Cluster) {
		c.Finalizers = []string{v1alpha1.CellFinalizer}
		c.Status = v1alpha1.ClusterStatus{
			Status: v1alpha1.StatusActive, Slot: slotPtr(4), Endpoint: "https://127.251.128.5:6443",
			KubernetesVersion: "v1.35.4",
		}
	})
	secret := kubeconfigSecret(cellCopy)
	secret.Type = corev1.SecretTypeOpaque
	secret.Data = map[string][]byte{v1alpha1.KubeconfigSecretKey: []byte("apiVersion: v1\n")}
	a := newAgent(t, []client.Object{reg}, []client.Object{cellCopy, secret})
	reconcileAgent(t, a, reg)

	if got := get(t, a.Region.GetClient(), reg).Status; !reflect.DeepEqual(got, cellCopy.Status) {
		t.Errorf("region status = %+v, want the cell's %+v", got, cellCopy.Status)
	}
	pub := &corev1.Secret{}
	if err := a.Region.GetClient().Get(ctx, client.ObjectKeyFromObject(secret), pub); err != nil {
		t.Fatalf("kubeconfig not published to the region: %v", err)
	}
	if !reflect.DeepEqual(pub.Data, secret.Data) || pub.Labels[LabelKubeconfigFor] != reg.Name || pub.Type != secret.Type {
		t.Errorf("published secret = %+v", pub)
	}
}

func TestAgentReleasesDeletedCluster(t *testing.T) {
	ctx := context.Background()
	reg := regionCluster(func(c *v1alpha1.Cluster) {
		now := metav1.Now()
		c.DeletionTimestamp = &now
	})
	regSecret := kubeconfigSecret(reg)
	// The cell's copy carries the cell finalizer: it goes away only once the cell
	// controller has torn the control plane down.
	cellCopy := regionCluster(func(c *v1alpha1.Cluster) {
		c.Finalizers = []string{v1alpha1.CellFinalizer}
		c.Status.Status = v1alpha1.StatusActive
	})
	update := func(name, cluster string) *v1alpha1.ClusterUpdate {
		return &v1alpha1.ClusterUpdate{ObjectMeta: metav1.ObjectMeta{Namespace: reg.Namespace, Name: name,
			Labels: map[string]string{v1alpha1.LabelCluster: cluster}}}
	}
	mine, others := update(reg.Name+"-1", reg.Name), update("other-1", "other")
	a := newAgent(t, []client.Object{reg, regSecret, mine, others}, []client.Object{cellCopy})

	res := reconcileAgent(t, a, reg)
	if res.RequeueAfter != time.Second {
		t.Errorf("result = %+v, want a requeue while the cell tears down", res)
	}
	c := get(t, a.Cell, cellCopy)
	if c.DeletionTimestamp.IsZero() {
		t.Fatal("the cell's copy was not deleted")
	}
	if s := get(t, a.Region.GetClient(), reg).Status.Status; s != v1alpha1.StatusActive {
		t.Errorf("region status = %q, want the cell's status mirrored while deleting", s)
	}

	// The cell controller finishes its teardown and drops its finalizer.
	c.Finalizers = nil
	if err := a.Cell.Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	if res := reconcileAgent(t, a, reg); res != (ctrl.Result{}) {
		t.Errorf("result = %+v once the cell is done", res)
	}
	if err := a.Region.GetClient().Get(ctx, client.ObjectKeyFromObject(regSecret), &corev1.Secret{}); !apierrors.IsNotFound(err) {
		t.Errorf("region kubeconfig: %v, want it deleted", err)
	}
	if err := a.Region.GetClient().Get(ctx, client.ObjectKeyFromObject(reg), &v1alpha1.Cluster{}); !apierrors.IsNotFound(err) {
		t.Errorf("region cluster: %v, want it released", err)
	}
	if err := a.Region.GetClient().Get(ctx, client.ObjectKeyFromObject(mine), &v1alpha1.ClusterUpdate{}); !apierrors.IsNotFound(err) {
		t.Errorf("the cluster's update record: %v, want it deleted", err)
	}
	if err := a.Region.GetClient().Get(ctx, client.ObjectKeyFromObject(others), &v1alpha1.ClusterUpdate{}); err != nil {
		t.Errorf("another cluster's update record was touched: %v", err)
	}
}

func TestAgentDeletesOrphanedCopy(t *testing.T) {
	// The region's object vanished without its finalizer running (removed by hand).
	cellCopy := regionCluster(func(c *v1alpha1.Cluster) { c.Finalizers = nil })
	a := newAgent(t, nil, []client.Object{cellCopy})
	reconcileAgent(t, a, cellCopy)
	if err := a.Cell.Get(context.Background(), client.ObjectKeyFromObject(cellCopy), &v1alpha1.Cluster{}); !apierrors.IsNotFound(err) {
		t.Fatalf("orphaned cell copy: %v, want it deleted", err)
	}
	reconcileAgent(t, a, cellCopy) // and again, with nothing left to delete
}

// TestAgentPublishesKubeconfigBeforeActive: a client that sees ACTIVE asks for the
// kubeconfig next, so the region must never show ACTIVE without it.
func TestAgentPublishesKubeconfigBeforeActive(t *testing.T) {
	reg := regionCluster()
	cellCopy := regionCluster(func(c *v1alpha1.Cluster) {
		c.Finalizers = []string{v1alpha1.CellFinalizer}
		c.Status = v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive, Slot: slotPtr(4)}
	})
	secret := kubeconfigSecret(cellCopy)
	secret.Data = map[string][]byte{v1alpha1.KubeconfigSecretKey: []byte("apiVersion: v1\n")}
	refuseSecrets := interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		if _, ok := obj.(*corev1.Secret); ok {
			return apierrors.NewServiceUnavailable("region store overloaded")
		}
		return c.Create(ctx, obj, opts...)
	}}
	region := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(reg).
		WithStatusSubresource(&v1alpha1.Cluster{}).WithInterceptorFuncs(refuseSecrets).Build()
	a := &Agent{Region: fakeRegion{client: region}, Cell: newFakeClient(t, cellCopy, secret), CellName: "cell-1", Logger: slog.New(slog.DiscardHandler)}
	if _, err := a.Reconcile(context.Background(), request(reg)); err == nil {
		t.Fatal("want the failed kubeconfig publication reported")
	}
	if got := get(t, region, reg).Status.Status; got == v1alpha1.StatusActive {
		t.Fatal("the region shows ACTIVE while the kubeconfig could not be published")
	}
}

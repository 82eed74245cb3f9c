package lifecycle

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/lb"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

func kubeconfigSecret(c *v1alpha1.Cluster) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{
		Namespace: c.Namespace, Name: v1alpha1.KubeconfigSecretName(c.Name),
		Labels: map[string]string{v1alpha1.LabelKubeconfigFor: c.Name},
	}}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// deleting is a placed cluster whose deletion has been requested.
func deleting(t *testing.T, slot *int32) *v1alpha1.Cluster {
	return createDeleting(t, testCluster(t, func(c *v1alpha1.Cluster) {
		c.Status.Status = v1alpha1.StatusActive
		c.Status.Slot = slot
	}))
}

// seedClusterFiles gives c what a running control plane leaves behind: files in its
// directory, an endpoint in the load balancer and a slot in the allocator.
func seedClusterFiles(t *testing.T, r *Reconciler, c *v1alpha1.Cluster) *controlplane.Plan {
	t.Helper()
	p := r.Layout.Plan(c, testKube, testEtcd)
	if err := os.MkdirAll(p.LogDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p.LogDir(), "etcd-a.log"), []byte("log\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := lb.WriteEndpointFile(r.Endpoint.Dir, p.EndpointConfig()); err != nil {
		t.Fatal(err)
	}
	r.slots.held = map[types.UID]int32{c.UID: *c.Status.Slot}
	return p
}

func kindsOf(specs []process.Spec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(s.Name, "-a"), "-b"), "-c"))
	}
	return out
}

func TestReconcileDelete(t *testing.T) {
	ctx := context.Background()
	c := deleting(t, slotPtr(3))
	r, runner, bins := newReconciler(t)
	env.Create(t, kubeconfigSecret(c))
	p := seedClusterFiles(t, r, c)

	res, err := r.Reconcile(ctx, request(c))
	if err != nil || res != (ctrl.Result{}) {
		t.Fatalf("Reconcile = %+v, %v", res, err)
	}

	ensured, stopped := runner.calls()
	if len(ensured) != 0 || bins.count() != 0 {
		t.Errorf("deletion started %d processes and asked for binaries %d times", len(ensured), bins.count())
	}
	// Controllers, then API servers, then etcd: etcd must outlive its clients.
	kinds := kindsOf(stopped)
	tier := func(k string) int {
		switch k {
		case controlplane.KindControllerManager, controlplane.KindScheduler, controlplane.KindKMSPlugin:
			return 0
		case controlplane.KindAPIServer:
			return 1
		}
		return 2
	}
	if len(stopped) != 11 || !slices.IsSortedFunc(kinds, func(a, b string) int { return tier(a) - tier(b) }) {
		t.Errorf("stopped %q, want 11 members: controllers and KMS plugins, then API servers, then etcd", kinds)
	}
	// Stop must find the processes Ensure started: same ID and pid file.
	want := map[string]process.Spec{}
	for _, m := range p.AllMembers() {
		want[m.Name()] = p.Spec(m)
	}
	for _, s := range stopped {
		w, ok := want[s.Name]
		if !ok || s.ID != w.ID || s.StateDir != w.StateDir {
			t.Errorf("stopped %s (%s in %s), want %s in %s", s.Name, s.ID, s.StateDir, w.ID, w.StateDir)
		}
		// Its data is about to be removed: no long graceful shutdown.
		if s.StopTimeout != deleteStopTimeout {
			t.Errorf("stopped %s with grace %s, want %s", s.Name, s.StopTimeout, deleteStopTimeout)
		}
		delete(want, s.Name)
	}
	if len(want) != 0 {
		t.Errorf("never stopped %v", want)
	}

	if exists(r.Layout.ClusterDir(c)) {
		t.Error("cluster directory still exists")
	}
	if entries, _ := os.ReadDir(r.Endpoint.Dir); len(entries) != 0 {
		t.Errorf("load balancer still has %d endpoint files", len(entries))
	}
	err = r.Client.Get(ctx, client.ObjectKeyFromObject(kubeconfigSecret(c)), &corev1.Secret{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("kubeconfig secret: %v, want it deleted", err)
	}
	err = r.Client.Get(ctx, client.ObjectKeyFromObject(c), &v1alpha1.Cluster{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("cluster: %v, want it gone once its finalizer is removed", err)
	}
	if _, held := r.slots.held[c.UID]; held {
		t.Error("slot still held after deletion")
	}
}

func TestReconcileDeleteUnplaced(t *testing.T) {
	// Deleted before it got a slot: nothing ran, so nothing is stopped.
	c := deleting(t, nil)
	r, runner, _ := newReconciler(t)
	if _, err := r.Reconcile(context.Background(), request(c)); err != nil {
		t.Fatal(err)
	}
	if _, stopped := runner.calls(); len(stopped) != 0 {
		t.Errorf("stopped %d processes of a cluster that never had a slot", len(stopped))
	}
	err := r.Client.Get(context.Background(), client.ObjectKeyFromObject(c), &v1alpha1.Cluster{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("cluster: %v, want it gone", err)
	}
}

func TestReconcileDeleteStopFails(t *testing.T) {
	ctx := context.Background()
	c := deleting(t, slotPtr(1))
	r, runner, _ := newReconciler(t)
	seedClusterFiles(t, r, c)
	runner.stopErr = errors.New("process table unavailable")

	if _, err := r.Reconcile(ctx, request(c)); !errors.Is(err, runner.stopErr) {
		t.Fatalf("Reconcile = %v, want the stop failure", err)
	}
	_, stopped := runner.calls()
	for _, k := range kindsOf(stopped) {
		if k == controlplane.KindEtcd || k == controlplane.KindAPIServer {
			t.Errorf("stopped %s although the controllers did not stop", k)
		}
	}
	stored := get(t, r.Client, c)
	if !slices.Contains(stored.Finalizers, v1alpha1.CellFinalizer) {
		t.Error("finalizer removed although teardown failed")
	}
	if stored.Status.Status != v1alpha1.StatusDeleting {
		t.Errorf("status = %s, want DELETING", stored.Status.Status)
	}
	if !exists(r.Layout.ClusterDir(c)) {
		t.Error("cluster files removed although its processes may still run")
	}
	if _, held := r.slots.held[c.UID]; !held {
		t.Error("slot released although the processes on its addresses may still run")
	}
}

func TestReconcileMissingCluster(t *testing.T) {
	r, _, _ := newReconciler(t)
	if res, err := r.Reconcile(context.Background(), request(testCluster(t))); err != nil || res != (ctrl.Result{}) {
		t.Fatalf("Reconcile of a missing cluster = %+v, %v", res, err)
	}
}

func TestReconcileFailedIsFinal(t *testing.T) {
	c := create(t, testCluster(t, func(c *v1alpha1.Cluster) {
		c.Finalizers = []string{v1alpha1.CellFinalizer}
		c.Status.Status = v1alpha1.StatusFailed
		c.Status.Reason = "it broke"
		c.Status.Slot = slotPtr(0)
	}))
	r, runner, bins := newReconciler(t)
	if res, err := r.Reconcile(context.Background(), request(c)); err != nil || res != (ctrl.Result{}) {
		t.Fatalf("Reconcile = %+v, %v", res, err)
	}
	if ensured, _ := runner.calls(); len(ensured) != 0 || bins.count() != 0 {
		t.Error("a FAILED cluster was worked on")
	}
	if s := get(t, r.Client, c).Status; s.Status != v1alpha1.StatusFailed || s.Reason != "it broke" {
		t.Errorf("status = %s %q", s.Status, s.Reason)
	}
}

func TestReconcileUnknownVersionFails(t *testing.T) {
	c := create(t, testCluster(t, func(c *v1alpha1.Cluster) { c.Spec.Version = "1.20" }))
	r, runner, bins := newReconciler(t)
	if res, err := r.Reconcile(context.Background(), request(c)); err != nil || res != (ctrl.Result{}) {
		t.Fatalf("Reconcile = %+v, %v; want no retry", res, err)
	}
	if ensured, _ := runner.calls(); len(ensured) != 0 || bins.count() != 0 {
		t.Error("components built or processes started for an unsupported version")
	}
	stored := get(t, r.Client, c)
	if stored.Status.Status != v1alpha1.StatusFailed || !strings.Contains(stored.Status.Reason, components.ErrUnknownVersion.Error()) {
		t.Errorf("status = %s %q, want FAILED naming the unsupported version", stored.Status.Status, stored.Status.Reason)
	}
	if !slices.Contains(stored.Finalizers, v1alpha1.CellFinalizer) {
		t.Error("no finalizer: deleting the FAILED cluster would skip cleanup")
	}
}

func TestReconcileBinariesErrorRetries(t *testing.T) {
	c := create(t, testCluster(t))
	r, runner, bins := newReconciler(t)
	bins.err = errors.New("go build: exit status 1")
	if _, err := r.Reconcile(context.Background(), request(c)); !errors.Is(err, bins.err) {
		t.Fatalf("Reconcile = %v, want the build error returned for a retry", err)
	}
	if ensured, _ := runner.calls(); len(ensured) != 0 {
		t.Error("processes started without binaries")
	}
	stored := get(t, r.Client, c)
	if stored.Status.Status == v1alpha1.StatusFailed || stored.Status.Slot == nil {
		t.Errorf("status = %q slot %v, want not FAILED, with its slot recorded", stored.Status.Status, stored.Status.Slot)
	}
}

// TestReconcileFirstPassRecordsCreating checks what the first reconcile of a new
// cluster stores: CREATING, whether or not the rest of the pass succeeds.
func TestReconcileFirstPassRecordsCreating(t *testing.T) {
	for _, tc := range []struct {
		name    string
		binErr  error
		wantErr bool
	}{
		{name: "nothing serving yet"},
		{name: "binaries fail", binErr: errors.New("go build: exit status 1"), wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := create(t, testCluster(t))
			r, _, bins := newReconciler(t)
			bins.err = tc.binErr
			if _, err := r.Reconcile(context.Background(), request(c)); (err != nil) != tc.wantErr {
				t.Fatalf("Reconcile = %v", err)
			}
			if got := get(t, r.Client, c).Status.Status; got != v1alpha1.StatusCreating {
				t.Fatalf("stored status = %q after the first pass, want CREATING", got)
			}
		})
	}
}

// TestReconcileLifecycle runs create and delete against fakes. Nothing serves on the
// members' addresses, so the cluster stays CREATING: the health checks themselves
// are the end-to-end tests' job.
func TestReconcileLifecycle(t *testing.T) {
	ctx := context.Background()
	c := create(t, testCluster(t))
	r, runner, _ := newReconciler(t)

	res, err := r.Reconcile(ctx, request(c))
	if err != nil || res.RequeueAfter != pollCreating {
		t.Fatalf("Reconcile = %+v, %v; want a quick requeue", res, err)
	}
	stored := get(t, r.Client, c)
	st := stored.Status
	// The first pass's status is TestReconcileFirstPassRecordsCreating's concern.
	if st.Status == v1alpha1.StatusFailed || st.Status == v1alpha1.StatusActive || !strings.HasPrefix(st.Reason, "waiting for ") {
		t.Errorf("status = %s %q, want waiting for members", st.Status, st.Reason)
	}
	if st.Slot == nil || *st.Slot != 0 || st.KubernetesVersion != components.Default().Version {
		t.Errorf("slot %v, version %q", st.Slot, st.KubernetesVersion)
	}
	p := r.Layout.Plan(stored, testKube, testEtcd)
	if st.Endpoint != p.Endpoint() {
		t.Errorf("endpoint = %q, want %q", st.Endpoint, p.Endpoint())
	}
	ca, err := os.ReadFile(p.Files().CA)
	if err != nil || st.CertificateAuthorityData != base64.StdEncoding.EncodeToString(ca) {
		t.Errorf("certificateAuthorityData does not match %s (%v)", p.Files().CA, err)
	}
	for typ, want := range map[string]metav1.ConditionStatus{
		v1alpha1.ConditionPKIReady: metav1.ConditionTrue, v1alpha1.ConditionEtcdReady: metav1.ConditionFalse,
		v1alpha1.ConditionEndpointReady: metav1.ConditionFalse, v1alpha1.ConditionReady: metav1.ConditionFalse,
	} {
		if cond := meta.FindStatusCondition(st.Conditions, typ); cond == nil || cond.Status != want {
			t.Errorf("%s = %+v, want %s", typ, cond, want)
		}
	}
	if !slices.Contains(stored.Finalizers, v1alpha1.CellFinalizer) {
		t.Error("no finalizer")
	}

	ensured, _ := runner.calls()
	var wantSpecs []process.Spec
	for _, m := range p.AllMembers() {
		wantSpecs = append(wantSpecs, p.Spec(m))
	}
	if len(ensured) != len(wantSpecs) {
		t.Fatalf("ensured %d processes, want %d", len(ensured), len(wantSpecs))
	}
	for i := range wantSpecs {
		if ensured[i].ID != wantSpecs[i].ID || ensured[i].Path != wantSpecs[i].Path || !slices.Equal(ensured[i].Args, wantSpecs[i].Args) {
			t.Errorf("process %d = %s (%s), want %s (%s) in start order", i, ensured[i].ID, ensured[i].Path, wantSpecs[i].ID, wantSpecs[i].Path)
		}
	}
	if len(st.Components) != 11 || st.Components[0].PID == 0 || st.Components[0].Ready {
		t.Errorf("components = %+v, want 11 with PIDs, not ready", st.Components)
	}
	if !exists(filepath.Join(r.Endpoint.Dir, p.EndpointID()+".json")) || !exists(p.AuditPolicyPath()) {
		t.Error("endpoint file or audit policy not written")
	}
	err = r.Client.Get(ctx, client.ObjectKeyFromObject(kubeconfigSecret(c)), &corev1.Secret{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("kubeconfig published before the cluster is healthy: %v", err)
	}

	// A second pass changes nothing: same slot, same certificates.
	if _, err := r.Reconcile(ctx, request(c)); err != nil {
		t.Fatal(err)
	}
	again := get(t, r.Client, c).Status
	if *again.Slot != *st.Slot || again.CertificateAuthorityData != st.CertificateAuthorityData {
		t.Error("a second reconcile moved the cluster or reissued its CA")
	}
	if again.Status != v1alpha1.StatusCreating {
		t.Errorf("status after the second pass = %q, want CREATING", again.Status)
	}

	if err := r.Client.Delete(ctx, stored); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(ctx, request(c)); err != nil {
		t.Fatal(err)
	}
	if _, stopped := runner.calls(); len(stopped) != 11 {
		t.Errorf("stopped %d processes, want 11", len(stopped))
	}
	if exists(r.Layout.ClusterDir(c)) || exists(filepath.Join(r.Endpoint.Dir, p.EndpointID()+".json")) {
		t.Error("cluster files or endpoint left behind")
	}
	if _, ok := r.probers.m.Load(c.UID); ok {
		t.Error("health prober kept after deletion")
	}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(c), &v1alpha1.Cluster{}); !apierrors.IsNotFound(err) {
		t.Errorf("cluster: %v, want it gone", err)
	}
}

func TestEnsureKubeconfig(t *testing.T) {
	ctx := context.Background()
	c := create(t, testCluster(t, func(c *v1alpha1.Cluster) { c.Spec.Name = "Demo_1"; c.Status.Slot = slotPtr(2) }))
	r, _, _ := newReconciler(t)
	p := r.Layout.Plan(c, testKube, testEtcd)
	if err := r.phasePKI(ctx, c, p); err != nil {
		t.Fatal(err)
	}
	for range 2 { // create, then update in place
		if err := r.secrets.publish(ctx, c, p); err != nil {
			t.Fatal(err)
		}
	}
	s := &corev1.Secret{}
	if err := r.Client.Get(ctx, client.ObjectKeyFromObject(kubeconfigSecret(c)), s); err != nil {
		t.Fatal(err)
	}
	// The agent finds the cluster of a published kubeconfig by this label.
	if s.Labels[v1alpha1.LabelKubeconfigFor] != c.Name {
		t.Errorf("published secret labels = %v, want %s=%s", s.Labels, v1alpha1.LabelKubeconfigFor, c.Name)
	}
	cfg, err := clientcmd.Load(s.Data[v1alpha1.KubeconfigSecretKey])
	if err != nil {
		t.Fatal(err)
	}
	kctx := cfg.Contexts[cfg.CurrentContext]
	if cfg.CurrentContext != "Demo_1" || kctx == nil {
		t.Fatalf("current context = %q, want the tenant's cluster name", cfg.CurrentContext)
	}
	cluster, user := cfg.Clusters[kctx.Cluster], cfg.AuthInfos[kctx.AuthInfo]
	ca, _ := os.ReadFile(p.Files().CA)
	if cluster.Server != p.Endpoint() || string(cluster.CertificateAuthorityData) != string(ca) {
		t.Errorf("cluster = %s with %d bytes of CA, want %s with the cluster CA", cluster.Server, len(cluster.CertificateAuthorityData), p.Endpoint())
	}
	// Embedded, so the file works on another machine.
	if kctx.AuthInfo != "Demo_1-admin" || len(user.ClientCertificateData) == 0 || len(user.ClientKeyData) == 0 || user.ClientCertificate != "" {
		t.Errorf("user %s = %+v, want embedded admin credentials", kctx.AuthInfo, user)
	}

	if err := r.secrets.delete(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := r.secrets.delete(ctx, c); err != nil {
		t.Fatalf("deleting a deleted kubeconfig: %v", err)
	}
}

package zones

import (
	"context"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/utils/ptr"
)

// A lease nobody renewed for leaseStaleAfter loses its holder; a fresh one
// or one without a holder is left alone. The store stands in for a tenant's
// API server: releaseIfStale updates with the lease's resourceVersion, which
// the real store checks.
func TestReleaseIfStale(t *testing.T) {
	ctx := context.Background()
	cs, err := kubernetes.NewForConfig(env.RESTConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	// The controllers' leases live in kube-system, which the API server
	// creates itself shortly after it starts.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: metav1.NamespaceSystem}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	leases := cs.CoordinationV1().Leases(metav1.NamespaceSystem)
	// The store is this binary's alone, but kube-system is shared by its
	// tests: the names say whose leases these are.
	name := func(s string) string { return "release-if-stale-" + s }
	lease := func(s, holder string, renewed time.Duration) *coordinationv1.Lease {
		return &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: name(s)},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder),
				RenewTime: &metav1.MicroTime{Time: time.Now().Add(-renewed)}},
		}
	}
	for _, l := range []*coordinationv1.Lease{lease("stale", "kcm-a", 10*time.Second), lease("fresh", "kcm-b", time.Second), lease("free", "", time.Minute)} {
		if _, err := leases.Create(ctx, l, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = leases.Delete(context.Background(), l.Name, metav1.DeleteOptions{}) })
	}
	for _, tc := range []struct{ name, holder string }{{"stale", ""}, {"fresh", "kcm-b"}, {"free", ""}} {
		if _, err := releaseIfStale(ctx, discard, cs, name(tc.name)); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		l, err := leases.Get(ctx, name(tc.name), metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := ptr.Deref(l.Spec.HolderIdentity, ""); got != tc.holder {
			t.Errorf("lease %s held by %q, want %q", tc.name, got, tc.holder)
		}
	}
	if _, err := releaseIfStale(ctx, discard, cs, name("missing")); err == nil {
		t.Error("a missing lease gave no error")
	}
}

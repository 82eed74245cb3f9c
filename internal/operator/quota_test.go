package operator

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/quota"
)

func TestMaxClusters(t *testing.T) {
	ctx := context.Background()
	a, err := testClient(t).Accounts()
	if err != nil {
		t.Fatal(err)
	}
	acct, _, err := a.Create(ctx, "limited")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = env.Client(t).Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.Namespace(acct.ID)}})
		if err := a.Delete(ctx, acct.ID); err != nil {
			t.Errorf("deleting the test's account: %v", err)
		}
	})
	if l, err := a.MaxClusters(ctx, acct.ID); err != nil || l.MaxClusters != quota.DefaultMaxClusters || l.Override {
		t.Fatalf("default limit = %+v, %v", l, err)
	}
	// Before the account's first cluster: the namespace is made, labelled as
	// the regional API makes it.
	one := 1
	if err := a.SetMaxClusters(ctx, acct.ID, &one); err != nil {
		t.Fatal(err)
	}
	var ns corev1.Namespace
	if err := env.Client(t).Get(ctx, client.ObjectKey{Name: v1alpha1.Namespace(acct.ID)}, &ns); err != nil {
		t.Fatal(err)
	}
	if ns.Labels[v1alpha1.LabelAccount] != acct.ID || ns.Annotations[v1alpha1.AnnotationMaxClusters] != "1" {
		t.Fatalf("namespace %+v", ns.ObjectMeta)
	}
	five := 5
	if err := a.SetMaxClusters(ctx, acct.ID, &five); err != nil {
		t.Fatal(err)
	}
	if l, _ := a.MaxClusters(ctx, acct.ID); l.MaxClusters != 5 || !l.Override {
		t.Fatalf("limit after setting 5: %+v", l)
	}
	if err := a.SetMaxClusters(ctx, acct.ID, nil); err != nil {
		t.Fatal(err)
	}
	if l, _ := a.MaxClusters(ctx, acct.ID); l.MaxClusters != quota.DefaultMaxClusters || l.Override {
		t.Fatalf("limit after returning to the default: %+v", l)
	}

	bad := -1
	if err := a.SetMaxClusters(ctx, acct.ID, &bad); !errors.Is(err, errdefs.ErrInvalidParameter) {
		t.Errorf("a negative limit: %v", err)
	}
	if err := a.SetMaxClusters(ctx, "123456789012", &five); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("an unknown account: %v", err)
	}
}

func TestClusterDetails(t *testing.T) {
	ctx := context.Background()
	c := testClient(t)
	id := accountNamespace(t)
	cl := &v1alpha1.Cluster{
		ObjectMeta: metav1.ObjectMeta{Namespace: v1alpha1.Namespace(id), Name: v1alpha1.ObjectName("demo")},
		Spec:       v1alpha1.ClusterSpec{Name: "demo", Version: "1.35", Cell: "cell-1"},
		Status: v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive, Components: []v1alpha1.ComponentStatus{
			{Name: "etcd-a", Zone: "a", Address: "127.101.32.1:2379", PID: 4242, Ready: true}}},
	}
	env.CreateWithStatus(t, cl)
	tenant := &eks.Cluster{Name: "demo", Arn: "arn:cellplane:eks:local:" + id + ":cluster/demo", Status: "ACTIVE",
		Cellplane: &eks.Extension{Components: []eks.Component{{Name: "etcd-a", Ready: true}}}}
	full, err := c.WithDetails(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	x := full.Cellplane
	if full.Status != "ACTIVE" || x.Cell != "cell-1" || len(x.Components) != 1 || x.Components[0].PID != 4242 || x.Components[0].Address != "127.101.32.1:2379" {
		t.Fatalf("operator view %+v", x)
	}
	if tenant.Cellplane.Cell != "" {
		t.Fatal("WithDetails changed the tenant's copy")
	}
	for _, tc := range []struct {
		account, name string
		want          error
	}{
		{id, "nosuch", errdefs.ErrNotFound},
		{id, "bad.name", errdefs.ErrInvalidParameter},
		{"111111111111", "demo", errdefs.ErrNotFound},
	} {
		if _, err := c.ClusterDetails(ctx, tc.account, tc.name); !errors.Is(err, tc.want) {
			t.Errorf("ClusterDetails(%s, %s) = %v, want %v", tc.account, tc.name, err, tc.want)
		}
	}
	if _, err := c.WithDetails(ctx, &eks.Cluster{Name: "demo", Arn: "not-an-arn"}); !errors.Is(err, errdefs.ErrInvalidParameter) {
		t.Errorf("WithDetails of a cluster without an ARN: %v", err)
	}
}

package operator

import (
	"context"
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestAccountDeleteRefusals(t *testing.T) {
	ctx := context.Background()
	a, err := testClient(t).Accounts()
	if err != nil {
		t.Fatal(err)
	}
	acct, _, err := a.Create(ctx, "team-b")
	if err != nil {
		t.Fatal(err)
	}
	// The regional API creates an account's namespace with its first cluster.
	owned := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: v1alpha1.Namespace(acct.ID), Name: "c"},
		Spec: v1alpha1.ClusterSpec{Name: "c", Version: "1.35"}}
	env.Create(t, namespace(v1alpha1.Namespace(acct.ID)), owned)
	for _, id := range []string{v1alpha1.DefaultAccount, acct.ID} {
		if err := a.Delete(ctx, id); !errors.Is(err, errdefs.ErrInvalidRequest) {
			t.Errorf("Delete(%s) = %v, want ErrInvalidRequest", id, err)
		}
	}
	if err := env.Client(t).Delete(ctx, owned); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, acct.ID); err != nil {
		t.Fatalf("Delete of an account without clusters: %v", err)
	}
	if accts, _ := a.List(ctx); len(accts) != 0 {
		t.Fatalf("accounts left: %v", accts)
	}
}

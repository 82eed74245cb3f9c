package service

import (
	"context"
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestAccountDeleteRefusals(t *testing.T) {
	ctx := context.Background()
	sc, err := newScheme()
	if err != nil {
		t.Fatal(err)
	}
	cl := fake.NewClientBuilder().WithScheme(sc).Build()
	a := &Accounts{store: &account.Store{Client: cl, Key: make([]byte, account.MasterKeySize)}, region: cl}
	acct, _, err := a.Create(ctx, "team-b")
	if err != nil {
		t.Fatal(err)
	}
	owned := &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: v1alpha1.Namespace(acct.ID), Name: "c"}}
	if err := cl.Create(ctx, owned); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{v1alpha1.DefaultAccount, acct.ID} {
		if err := a.Delete(ctx, id); !errors.Is(err, errdefs.ErrInvalidRequest) {
			t.Errorf("Delete(%s) = %v, want ErrInvalidRequest", id, err)
		}
	}
	if err := cl.Delete(ctx, owned); err != nil {
		t.Fatal(err)
	}
	if err := a.Delete(ctx, acct.ID); err != nil {
		t.Fatalf("Delete of an account without clusters: %v", err)
	}
	if accts, _ := a.List(ctx); len(accts) != 0 {
		t.Fatalf("accounts left: %v", accts)
	}
}

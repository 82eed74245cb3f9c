package clusternames

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

func named(ns, name string) *v1alpha1.Cluster {
	return &v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: v1alpha1.ObjectName(name)}, Spec: v1alpha1.ClusterSpec{Name: name}}
}

func TestIndex(t *testing.T) {
	n := New()
	if got := n.Sorted("acct-1"); len(got) != 0 {
		t.Fatalf("empty index lists %q", got)
	}
	for _, name := range []string{"b", "a", "C_1", "c"} {
		n.set(named("acct-1", name))
	}
	n.set(named("acct-2", "other"))
	n.set(&v1alpha1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: "acct-1", Name: "x"}}) // no spec.name yet
	n.set(&v1alpha1.ClusterUpdate{})                                                        // not a cluster
	first := n.Sorted("acct-1")
	if want := []string{"C_1", "a", "b", "c"}; !slices.Equal(first, want) {
		t.Fatalf("sorted = %q, want %q (byte order, one account only)", first, want)
	}
	if !n.Has(client.ObjectKeyFromObject(named("acct-1", "a"))) || n.Has(client.ObjectKeyFromObject(named("acct-2", "a"))) {
		t.Fatal("has disagrees with what was set")
	}

	n.remove(client.ObjectKeyFromObject(named("acct-1", "b")))
	n.set(named("acct-1", "d"))
	if want := []string{"C_1", "a", "c", "d"}; !slices.Equal(n.Sorted("acct-1"), want) {
		t.Fatalf("after remove and add: %q, want %q", n.Sorted("acct-1"), want)
	}
	// A page handed out earlier is never changed under its reader.
	if want := []string{"C_1", "a", "b", "c"}; !slices.Equal(first, want) {
		t.Fatalf("an earlier result changed to %q", first)
	}
	if n.HasSynced() {
		t.Error("HasSynced before Watch")
	}
}

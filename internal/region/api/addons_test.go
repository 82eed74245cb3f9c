package api

import (
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/region/addons"
)

func (r response) addon(t *testing.T) *eks.Addon {
	t.Helper()
	var out eks.AddonOutput
	r.decode(t, &out)
	return out.Addon
}

// addonApplied reports, as the cell's mirror does, that the cell applied an
// add-on's current spec, with the given result and issues.
func (h *harness) addonApplied(cluster, name, result string, issues ...v1alpha1.AddonIssue) {
	h.t.Helper()
	var a v1alpha1.Addon
	key := client.ObjectKey{Namespace: h.namespace(), Name: v1alpha1.AddonObjectName(v1alpha1.ObjectName(cluster), name)}
	if err := h.store.Get(context.Background(), key, &a); err != nil {
		h.t.Fatal(err)
	}
	a.Status = v1alpha1.AddonStatus{ObservedGeneration: a.Generation, Result: result, Issues: issues,
		EverApplied: a.Status.EverApplied || result == v1alpha1.AddonApplied}
	if err := h.store.Status().Update(context.Background(), &a); err != nil {
		h.t.Fatal(err)
	}
}

// TestAddonLifecycle: default add-ons come with a cluster; statuses follow
// what the cell reports; an AddonUpdate settles Failed or Successful from
// it, shows only under its addonName, and holds off other changes while it
// runs; a delete reads DELETING.
func TestAddonLifecycle(t *testing.T) {
	h := newHarness(t)
	h.create(eks.CreateClusterInput{Name: "ad"})
	var list eks.ListAddonsOutput
	h.do("GET", "/clusters/ad/addons", nil).decode(t, &list)
	if len(list.Addons) != 2 || list.Addons[0] != "coredns" || list.Addons[1] != "kube-proxy" {
		t.Fatalf("default add-ons %v", list.Addons)
	}
	if a := h.do("GET", "/clusters/ad/addons/coredns", nil).addon(t); a.Status != "CREATING" {
		t.Fatalf("before the cell applied it: %+v", a)
	}
	h.addonApplied("ad", "coredns", v1alpha1.AddonApplied)
	if a := h.do("GET", "/clusters/ad/addons/coredns", nil).addon(t); a.Status != "ACTIVE" || len(a.Health.Issues) != 0 {
		t.Fatalf("applied: %+v", a)
	}
	u := h.do("POST", "/clusters/ad/addons/coredns/update", eks.UpdateAddonInput{ResolveConflicts: "NONE"}).update(t)
	if u.Type != "AddonUpdate" || u.Status != "InProgress" {
		t.Fatalf("update %+v", u)
	}
	if a := h.do("GET", "/clusters/ad/addons/coredns", nil).addon(t); a.Status != "UPDATING" {
		t.Fatalf("while updating: %s", a.Status)
	}
	h.do("POST", "/clusters/ad/addons/coredns/update", eks.UpdateAddonInput{}).wantError(t, 409, eks.ResourceInUseException, "UPDATING")
	h.do("DELETE", "/clusters/ad/addons/coredns", nil).wantError(t, 409, eks.ResourceInUseException, "UPDATING")
	if got := h.do("GET", "/clusters/ad/updates/"+u.ID+"?addonName=coredns", nil).update(t); got.Status != "InProgress" {
		t.Fatalf("before the cell applied it: %+v", got)
	}
	h.do("GET", "/clusters/ad/updates/"+u.ID, nil).wantError(t, 404, eks.ResourceNotFoundException, u.ID)
	h.addonApplied("ad", "coredns", v1alpha1.AddonFailed, v1alpha1.AddonIssue{Code: "ConfigurationConflict", Message: "conflict"})
	got := h.do("GET", "/clusters/ad/updates/"+u.ID+"?addonName=coredns", nil).update(t)
	if got.Status != "Failed" || len(got.Errors) != 1 || got.Errors[0].ErrorCode != "ConfigurationConflict" {
		t.Fatalf("after a conflict: %+v", got)
	}
	if a := h.do("GET", "/clusters/ad/addons/coredns", nil).addon(t); a.Status != "DEGRADED" || a.Health.Issues[0].Code != "ConfigurationConflict" {
		t.Fatalf("after a failed update: %+v", a)
	}

	u = h.do("POST", "/clusters/ad/addons/coredns/update", eks.UpdateAddonInput{ResolveConflicts: "OVERWRITE"}).update(t)
	h.addonApplied("ad", "coredns", v1alpha1.AddonApplied)
	if got := h.do("GET", "/clusters/ad/updates/"+u.ID+"?addonName=coredns", nil).update(t); got.Status != "Successful" {
		t.Fatalf("after the apply: %+v", got)
	}
	var ups eks.ListUpdatesOutput
	h.do("GET", "/clusters/ad/updates?addonName=coredns", nil).decode(t, &ups)
	var own eks.ListUpdatesOutput
	h.do("GET", "/clusters/ad/updates", nil).decode(t, &own)
	if len(ups.UpdateIDs) != 2 || len(own.UpdateIDs) != 0 {
		t.Fatalf("coredns's updates %v, the cluster's %v", ups.UpdateIDs, own.UpdateIDs)
	}
	h.do("GET", "/clusters/ad/updates?addonName=vpc-cni", nil).wantError(t, 404, eks.ResourceNotFoundException, "vpc-cni")

	if a := h.do("DELETE", "/clusters/ad/addons/coredns?preserve=true", nil).addon(t); a.Status != "DELETING" {
		t.Fatalf("delete answered %+v", a)
	}
	var stored v1alpha1.Addon
	key := client.ObjectKey{Namespace: h.namespace(), Name: v1alpha1.AddonObjectName(v1alpha1.ObjectName("ad"), "coredns")}
	if err := h.store.Get(context.Background(), key, &stored); err != nil || !stored.Spec.Preserve || stored.DeletionTimestamp.IsZero() {
		t.Fatalf("stored after delete: %+v %v", stored, err)
	}
	h.do("DELETE", "/clusters/ad/addons/coredns", nil).wantError(t, 409, eks.ResourceInUseException, "being deleted")
}

// TestAddonErrors: bad requests get EKS's errors and store nothing.
func TestAddonErrors(t *testing.T) {
	h := newHarness(t)
	h.create(eks.CreateClusterInput{Name: "none", BootstrapSelfManagedAddons: ptr(false)})
	for _, tc := range []struct {
		name string
		in   eks.CreateAddonInput
		code string
		msg  string
	}{
		{"no name", eks.CreateAddonInput{}, eks.InvalidParameterException, "addonName is required"},
		{"unknown", eks.CreateAddonInput{AddonName: "vpc-cni"}, eks.InvalidParameterException, "not supported"},
		{"version", eks.CreateAddonInput{AddonName: "kube-proxy", AddonVersion: "v1.20.0-eksbuild.1"}, eks.InvalidParameterException, "not supported for kube-proxy"},
		{"config", eks.CreateAddonInput{AddonName: "coredns", ConfigurationValues: `{"replicaCount":0}`}, eks.InvalidParameterException, "replicaCount"},
		{"resolve", eks.CreateAddonInput{AddonName: "coredns", ResolveConflicts: "ALWAYS"}, eks.InvalidParameterException, "resolveConflicts"},
		{"role", eks.CreateAddonInput{AddonName: "coredns", ServiceAccountRoleArn: "arn:aws:iam::000000000000:role/x"}, eks.InvalidParameterException, "serviceAccountRoleArn"},
	} {
		h.do("POST", "/clusters/none/addons", tc.in).wantError(t, 400, tc.code, tc.msg)
	}
	var list eks.ListAddonsOutput
	h.do("GET", "/clusters/none/addons", nil).decode(t, &list)
	if len(list.Addons) != 0 {
		t.Fatalf("refused requests stored %v", list.Addons)
	}
	if a := h.do("POST", "/clusters/none/addons", eks.CreateAddonInput{AddonName: "coredns", ClientRequestToken: "t1"}).addon(t); a.Status != "CREATING" {
		t.Fatalf("created %+v", a)
	}
	if a := h.do("POST", "/clusters/none/addons", eks.CreateAddonInput{AddonName: "coredns", ClientRequestToken: "t1"}).addon(t); a.AddonName != "coredns" {
		t.Fatalf("a retry answered %+v", a)
	}
	h.do("POST", "/clusters/none/addons", eks.CreateAddonInput{AddonName: "coredns"}).wantError(t, 409, eks.ResourceInUseException, "already exists")
	h.do("GET", "/clusters/none/addons/kube-proxy", nil).wantError(t, 404, eks.ResourceNotFoundException, "kube-proxy")
	h.do("POST", "/clusters/none/addons/kube-proxy/update", eks.UpdateAddonInput{}).wantError(t, 404, eks.ResourceNotFoundException, "kube-proxy")
	h.do("DELETE", "/clusters/none/addons/kube-proxy", nil).wantError(t, 404, eks.ResourceNotFoundException, "kube-proxy")
	h.do("DELETE", "/clusters/none/addons/coredns?preserve=maybe", nil).wantError(t, 400, eks.InvalidParameterException, "preserve")
	h.do("GET", "/addons/supported-versions?kubernetesVersion=1.20", nil).wantError(t, 400, eks.InvalidParameterException, "1.20")
	h.do("PUT", "/clusters/none/addons", nil).wantError(t, 405, eks.ClientException, "")
}

// TestAddonsOfAnEarlierCluster: add-ons an earlier cluster of the same name
// left behind (its cell never released them) do not count for the new one,
// which gets its own defaults.
func TestAddonsOfAnEarlierCluster(t *testing.T) {
	h := newHarness(t)
	h.ensureNamespace()
	old := &v1alpha1.Cluster{}
	old.Name, old.Namespace, old.UID = v1alpha1.ObjectName("re"), h.namespace(), "uid-of-the-earlier-cluster"
	old.Labels = map[string]string{v1alpha1.LabelAccount: h.account}
	old.Spec = v1alpha1.ClusterSpec{Name: "re", Version: "1.35", Cell: "cell-1"}
	stale := addons.NewObject(old, v1alpha1.AddonSpec{ClusterName: "re", AddonName: "coredns", AddonVersion: "v0.0.1-eksbuild.1", ID: "stale",
		CreatedAt: metav1.Now(), ModifiedAt: metav1.Now()})
	if err := h.store.Create(context.Background(), stale); err != nil {
		t.Fatal(err)
	}
	h.create(eks.CreateClusterInput{Name: "re"})
	if a := h.do("GET", "/clusters/re/addons/coredns", nil).addon(t); a.AddonVersion == "v0.0.1-eksbuild.1" || a.Status != "CREATING" {
		t.Fatalf("the new cluster's coredns %+v", a)
	}
}

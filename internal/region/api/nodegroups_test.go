package api

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/region/nodegroups"
)

func (r response) nodegroup(t *testing.T) *eks.Nodegroup {
	t.Helper()
	var out eks.NodegroupOutput
	r.decode(t, &out)
	if out.Nodegroup == nil {
		t.Fatalf("no nodegroup in %s", r.body)
	}
	return out.Nodegroup
}

// ngInput is a valid CreateNodegroup body, changed by edit.
func ngInput(name string, edit func(m map[string]any)) map[string]any {
	m := map[string]any{
		"nodegroupName": name, "subnets": []string{"subnet-a", "subnet-b"}, "nodeRole": "arn:aws:iam::000000000000:role/node",
		"amiType": v1alpha1.AMITypeHollow, "scalingConfig": map[string]any{"minSize": 1, "maxSize": 5, "desiredSize": 3},
		"labels": map[string]string{"team": "a"}, "taints": []map[string]string{{"key": "dedicated", "value": "x", "effect": "NO_SCHEDULE"}},
	}
	if edit != nil {
		edit(m)
	}
	return m
}

// ngCount counts the stored node groups of the harness's account.
func (h *harness) ngCount() int {
	h.t.Helper()
	var l v1alpha1.NodeGroupList
	if err := h.store.List(context.Background(), &l, client.InNamespace(h.namespace())); err != nil {
		h.t.Fatal(err)
	}
	return len(l.Items)
}

// cellReports writes a node group status as the cell's mirror does.
func (h *harness) cellReports(cluster, name, phase string, current bool) {
	h.t.Helper()
	var ng v1alpha1.NodeGroup
	key := client.ObjectKey{Namespace: h.namespace(), Name: nodegroups.ObjectName(h.stored(cluster), name)}
	if err := h.store.Get(context.Background(), key, &ng); err != nil {
		h.t.Fatal(err)
	}
	ng.Status.Phase = phase
	if current {
		ng.Status.ObservedGeneration = ng.Generation
	}
	if err := h.store.Status().Update(context.Background(), &ng); err != nil {
		h.t.Fatal(err)
	}
}

func TestCreateNodegroupRefusesBadInputAndStoresNothing(t *testing.T) {
	h := newHarness(t)
	h.activeCluster("demo")
	if r := h.do("POST", "/clusters/demo/node-groups", ngInput("taken", nil)); r.status != 200 {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	cases := []struct {
		name   string
		edit   func(map[string]any)
		status int
		typ    string
		msg    string
	}{
		{"min over max", func(m map[string]any) {
			m["scalingConfig"] = map[string]any{"minSize": 4, "maxSize": 3, "desiredSize": 3}
		}, 400, eks.InvalidParameterException, "minSize 4 is greater than maxSize 3"},
		{"desired over max", func(m map[string]any) {
			m["scalingConfig"] = map[string]any{"minSize": 1, "maxSize": 3, "desiredSize": 4}
		}, 400, eks.InvalidParameterException, "desiredSize 4 must be between"},
		{"desired under min", func(m map[string]any) {
			m["scalingConfig"] = map[string]any{"minSize": 2, "maxSize": 3, "desiredSize": 1}
		}, 400, eks.InvalidParameterException, "desiredSize 1 must be between"},
		{"negative", func(m map[string]any) {
			m["scalingConfig"] = map[string]any{"minSize": -1, "maxSize": 3, "desiredSize": 1}
		}, 400, eks.InvalidParameterException, "must not be negative"},
		{"too big", func(m map[string]any) {
			m["scalingConfig"] = map[string]any{"minSize": 0, "maxSize": 451, "desiredSize": 1}
		}, 400, eks.InvalidParameterException, "at most 450"},
		{"bad name", func(m map[string]any) { m["nodegroupName"] = "-bad" }, 400, eks.InvalidParameterException, "nodegroupName"},
		{"bad label", func(m map[string]any) { m["labels"] = map[string]string{"a b": "x"} }, 400, eks.InvalidParameterException, "label or taint key"},
		{"reserved label", func(m map[string]any) { m["labels"] = map[string]string{"kubernetes.io/hostname": "x"} }, 400, eks.InvalidParameterException, "reserved"},
		{"bad taint effect", func(m map[string]any) {
			m["taints"] = []map[string]string{{"key": "k", "effect": "NoSchedule"}}
		}, 400, eks.InvalidParameterException, "taint effect"},
		{"unknown amiType", func(m map[string]any) { m["amiType"] = "AL2_x86_64" }, 400, eks.InvalidParameterException, "not offered"},
		{"other version", func(m map[string]any) { m["version"] = "1.30" }, 400, eks.InvalidParameterException, "version 1.30"},
		{"no subnets", func(m map[string]any) { delete(m, "subnets") }, 400, eks.InvalidParameterException, "subnets"},
		{"duplicate", nil, 409, eks.ResourceInUseException, "already exists"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := "fresh"
			if tc.edit == nil {
				name = "taken"
			}
			h.do("POST", "/clusters/demo/node-groups", ngInput(name, tc.edit)).wantError(t, tc.status, tc.typ, tc.msg)
			if n := h.ngCount(); n != 1 {
				t.Fatalf("%d node groups stored, want 1", n)
			}
		})
	}
	h.do("GET", "/clusters/demo/node-groups/nope", nil).wantError(t, 404, eks.ResourceNotFoundException, "nope")
	h.do("DELETE", "/clusters/demo/node-groups/nope", nil).wantError(t, 404, eks.ResourceNotFoundException, "nope")
	h.do("POST", "/clusters/other/node-groups", ngInput("x", nil)).wantError(t, 404, eks.ResourceNotFoundException, "")
}

func TestNodegroupLifecycle(t *testing.T) {
	h := newHarness(t)
	h.activeCluster("demo")
	ng := h.do("POST", "/clusters/demo/node-groups", ngInput("workers", nil)).nodegroup(t)
	if ng.Status != eks.NodegroupStatusCreating || *ng.ScalingConfig.DesiredSize != 3 || ng.AmiType != v1alpha1.AMITypeHollow ||
		ng.Version != components.Default().Minor || ng.ReleaseVersion != strings.TrimPrefix(components.Default().Version, "v") || ng.Labels["team"] != "a" || len(ng.Taints) != 1 || len(ng.Resources.AutoScalingGroups) != 2 {
		t.Fatalf("created %+v", ng)
	}
	// Updates are refused until the group is ACTIVE.
	size := map[string]any{"scalingConfig": map[string]any{"desiredSize": 2}}
	h.do("POST", "/clusters/demo/node-groups/workers/update-config", size).wantError(t, 409, eks.ResourceInUseException, "CREATING")

	h.cellReports("demo", "workers", v1alpha1.NodeGroupActive, true)
	if st := h.do("GET", "/clusters/demo/node-groups/workers", nil).nodegroup(t).Status; st != eks.NodegroupStatusActive {
		t.Fatalf("status %s, want ACTIVE", st)
	}
	var list eks.ListNodegroupsOutput
	h.do("GET", "/clusters/demo/node-groups", nil).decode(t, &list)
	if len(list.Nodegroups) != 1 || list.Nodegroups[0] != "workers" {
		t.Fatalf("list %+v", list)
	}

	// A bad size is refused whole, the labels with it.
	h.do("POST", "/clusters/demo/node-groups/workers/update-config", map[string]any{
		"scalingConfig": map[string]any{"desiredSize": 9}, "labels": map[string]any{"addOrUpdateLabels": map[string]string{"x": "y"}},
	}).wantError(t, 400, eks.InvalidParameterException, "desiredSize 9")
	u := h.do("POST", "/clusters/demo/node-groups/workers/update-config", map[string]any{
		"scalingConfig": map[string]any{"desiredSize": 2},
		"labels":        map[string]any{"addOrUpdateLabels": map[string]string{"x": "y"}, "removeLabels": []string{"team"}},
		"taints":        map[string]any{"removeTaints": []map[string]string{{"key": "dedicated", "effect": "NO_SCHEDULE"}}},
	}).update(t)
	if u.Type != eks.UpdateTypeConfig || u.Status != eks.UpdateStatusInProgress {
		t.Fatalf("update %+v", u)
	}
	got := h.do("GET", "/clusters/demo/node-groups/workers", nil).nodegroup(t)
	if got.Status != eks.NodegroupStatusUpdating || *got.ScalingConfig.DesiredSize != 2 || got.Labels["x"] != "y" || got.Labels["team"] != "" || len(got.Taints) != 0 {
		t.Fatalf("after update %+v", got)
	}
	h.do("POST", "/clusters/demo/node-groups/workers/update-config", size).wantError(t, 409, eks.ResourceInUseException, "UPDATING")
	h.do("DELETE", "/clusters/demo/node-groups/workers", nil).wantError(t, 409, eks.ResourceInUseException, "update in progress")

	// The node group's updates are its own: the cluster's list leaves them out.
	var ids eks.ListUpdatesOutput
	h.do("GET", "/clusters/demo/updates", nil).decode(t, &ids)
	if len(ids.UpdateIDs) != 0 {
		t.Fatalf("cluster updates %v", ids.UpdateIDs)
	}
	h.do("GET", "/clusters/demo/updates?nodegroupName=workers", nil).decode(t, &ids)
	if len(ids.UpdateIDs) != 1 || ids.UpdateIDs[0] != u.ID {
		t.Fatalf("node group updates %v", ids.UpdateIDs)
	}
	h.cellReports("demo", "workers", v1alpha1.NodeGroupActive, true)
	if d := h.do("GET", "/clusters/demo/updates/"+u.ID+"?nodegroupName=workers", nil).update(t); d.Status != eks.UpdateStatusSuccessful {
		t.Fatalf("settled update %+v", d)
	}
	v := h.do("POST", "/clusters/demo/node-groups/workers/update-version", map[string]any{}).update(t)
	if v.Type != eks.UpdateTypeVersion || len(v.Params) != 2 {
		t.Fatalf("version update %+v", v)
	}
	h.do("POST", "/clusters/demo/node-groups/workers/update-version", map[string]any{"releaseVersion": "1.35.1"}).wantError(t, 400, eks.InvalidParameterException, "releaseVersion 1.35.1")
	h.cellReports("demo", "workers", v1alpha1.NodeGroupActive, true)

	h.do("DELETE", "/clusters/demo", nil).wantError(t, 409, eks.ResourceInUseException, "nodegroups attached")
	if st := h.do("DELETE", "/clusters/demo/node-groups/workers", nil).nodegroup(t).Status; st != eks.NodegroupStatusDeleting {
		t.Fatalf("deleted group reads %s", st)
	}
	if st := h.do("GET", "/clusters/demo/node-groups/workers", nil).nodegroup(t).Status; st != eks.NodegroupStatusDeleting {
		t.Fatalf("deleted group reads %s", st)
	}
	raw, _ := json.Marshal(ngInput("workers", nil))
	h.do("POST", "/clusters/demo/node-groups", string(raw)).wantError(t, 409, eks.ResourceInUseException, "already exists")
}

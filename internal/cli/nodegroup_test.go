package cli

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/region/nodegroups"
)

// reportGroup writes a node group's status as the cell's mirror would.
func (r *testRegion) reportGroup(cluster, name, phase string) {
	r.t.Helper()
	var ng v1alpha1.NodeGroup
	key := client.ObjectKey{Namespace: v1alpha1.Namespace(r.account), Name: nodegroups.ObjectName(r.stored(cluster), name)}
	if err := r.store.Get(context.Background(), key, &ng); err != nil {
		r.t.Fatal(err)
	}
	ng.Status.Phase, ng.Status.ObservedGeneration = phase, ng.Generation
	if err := r.store.Status().Update(context.Background(), &ng); err != nil {
		r.t.Fatal(err)
	}
}

func TestNodegroupCommands(t *testing.T) {
	r := newRegion(t)
	r.must("cluster", "create", "ngdemo")
	r.report("ngdemo", v1alpha1.ClusterStatus{Status: v1alpha1.StatusActive})

	out, _ := r.must("nodegroup", "create", "ngdemo", "workers", "--nodes", "3", "--max", "5", "--zone", "a", "--zone", "b",
		"--label", "pool=x", "--taint", "dedicated=x:NO_SCHEDULE")
	if !strings.Contains(out, "workers") || !strings.Contains(out, "status=CREATING") || !strings.Contains(out, "nodes=3 (min 1, max 5)") ||
		!strings.Contains(out, "CELLPLANE_HOLLOW") {
		t.Fatalf("create printed %q", out)
	}
	if _, _, err := r.cli.run("nodegroup", "create", "ngdemo", "bad", "--nodes", "9", "--max", "5"); !errors.Is(err, errdefs.ErrInvalidParameter) {
		t.Fatalf("create with desired over max: %v", err)
	}
	if _, _, err := r.cli.run("nodegroup", "create", "ngdemo", "bad", "--taint", "k:Sometimes"); !errors.Is(err, errdefs.ErrInvalidParameter) {
		t.Fatalf("create with a bad taint: %v", err)
	}
	out, _ = r.must("nodegroup", "list", "ngdemo", "--output", "json")
	var listed struct{ Nodegroups []string }
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed.Nodegroups) != 1 || listed.Nodegroups[0] != "workers" {
		t.Fatalf("list printed %q (%v)", out, err)
	}
	r.reportGroup("ngdemo", "workers", v1alpha1.NodeGroupActive)
	out, _ = r.must("nodegroup", "update", "ngdemo", "workers", "--nodes", "2", "--remove-label", "pool")
	if !strings.Contains(out, "ConfigUpdate") || !strings.Contains(out, "InProgress") {
		t.Fatalf("update printed %q", out)
	}
	out, _ = r.must("nodegroup", "describe", "ngdemo", "workers", "--output", "json")
	var described struct {
		Nodegroup struct {
			Status        string
			Labels        map[string]string
			ScalingConfig struct{ DesiredSize int }
		}
	}
	if err := json.Unmarshal([]byte(out), &described); err != nil || described.Nodegroup.Status != "UPDATING" ||
		described.Nodegroup.ScalingConfig.DesiredSize != 2 || len(described.Nodegroup.Labels) != 0 {
		t.Fatalf("describe printed %q (%v)", out, err)
	}
	r.reportGroup("ngdemo", "workers", v1alpha1.NodeGroupActive)
	out, _ = r.must("nodegroup", "delete", "ngdemo", "workers")
	if !strings.Contains(out, "status=DELETING") {
		t.Fatalf("delete printed %q", out)
	}
	if _, _, err := r.cli.run("nodegroup", "describe", "ngdemo", "nope"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("describe of an unknown group: %v", err)
	}
}

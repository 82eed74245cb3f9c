package nodegroups

import (
	"encoding/json"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

func testGroup(name string, desired int32, zones ...string) *v1alpha1.NodeGroup {
	return &v1alpha1.NodeGroup{ObjectMeta: metav1.ObjectMeta{Name: "ng-1"}, Spec: v1alpha1.NodeGroupSpec{
		NodegroupName: name, Zones: zones, Scaling: v1alpha1.NodeGroupScaling{DesiredSize: desired}}}
}

func TestSlotsSpreadOverZonesAndShrinkFromTheTop(t *testing.T) {
	got := slots(testGroup("workers", 5, "a", "b", "c"))
	var names []string
	for _, n := range got {
		names = append(names, n.Name+"@"+n.Zone)
	}
	want := []string{"workers-a-0@a", "workers-b-0@b", "workers-c-0@c", "workers-a-1@a", "workers-b-1@b"}
	if !slices.Equal(names, want) {
		t.Fatalf("slots %v, want %v", names, want)
	}
	smaller := slots(testGroup("workers", 3, "a", "b", "c"))
	if !slices.Equal([]node(smaller), got[:3]) {
		t.Fatalf("scaling down changed the kept nodes: %v", smaller)
	}
}

func TestNodeNamesAreDNSLabelsAndDistinct(t *testing.T) {
	a, b := nodeName("My_Group", "a", 0), nodeName("my-group", "a", 0)
	if a == b || a != "my-group-"+a[len("my-group-"):len("my-group-")+6]+"-a-0" {
		t.Fatalf("names %q and %q", a, b)
	}
	if b != "my-group-a-0" {
		t.Fatalf("plain name %q", b)
	}
}

func TestMetaPatchKeepsTheTenantsOwn(t *testing.T) {
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n",
		Labels:      map[string]string{"old": "1", "mine": "x", "team": "a"},
		Annotations: map[string]string{annotationManagedLabels: "old,team", annotationManagedTaints: "gone:NoSchedule"}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "gone", Effect: "NoSchedule"}, {Key: "node.kubernetes.io/unschedulable", Effect: "NoSchedule"}}}}
	reg := Registration{Labels: map[string]string{"team": "b"}, Taints: []string{"dedicated=x:NoExecute"}}
	b, ok := metaPatch(n, reg)
	if !ok {
		t.Fatal("no patch")
	}
	var p struct {
		Metadata struct {
			Labels map[string]*string `json:"labels"`
		} `json:"metadata"`
		Spec struct {
			Taints []corev1.Taint `json:"taints"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if v, ok := p.Metadata.Labels["old"]; !ok || v != nil {
		t.Errorf("old managed label not removed: %s", b)
	}
	if _, touched := p.Metadata.Labels["mine"]; touched {
		t.Errorf("the tenant's label was touched: %s", b)
	}
	if v := p.Metadata.Labels["team"]; v == nil || *v != "b" {
		t.Errorf("team not updated: %s", b)
	}
	keys := []string{}
	for _, tt := range p.Spec.Taints {
		keys = append(keys, tt.Key)
	}
	if !slices.Equal(keys, []string{"node.kubernetes.io/unschedulable", "dedicated"}) {
		t.Errorf("taints %v", keys)
	}
	n.Labels = map[string]string{"mine": "x", "team": "b"}
	n.Annotations = map[string]string{annotationManagedLabels: "team", annotationManagedTaints: "dedicated:NoExecute"}
	n.Spec.Taints = []corev1.Taint{{Key: "node.kubernetes.io/unschedulable", Effect: "NoSchedule"}, {Key: "dedicated", Value: "x", Effect: "NoExecute"}}
	if b, ok := metaPatch(n, reg); ok {
		t.Errorf("patch for a node already right: %s", b)
	}
}

func TestRegistrationArgs(t *testing.T) {
	ng := testGroup("workers", 1, "a")
	ng.Spec.Labels = map[string]string{"pool": "p"}
	ng.Spec.Taints = []v1alpha1.NodeGroupTaint{{Key: "k", Value: "v", Effect: "NO_SCHEDULE"}}
	got := registration(ng, "a").Args()
	want := []string{"--node-labels=cellplane.io/nodegroup-id=ng-1,eks.amazonaws.com/nodegroup=workers,pool=p,topology.kubernetes.io/zone=a",
		"--register-with-taints=k=v:NoSchedule"}
	if !slices.Equal(got, want) {
		t.Fatalf("args %v, want %v", got, want)
	}
}

func TestRealNodeNamesDifferAcrossGroupsOfTheSameName(t *testing.T) {
	a, b := testGroup("workers", 2, "a", "b"), testGroup("workers", 2, "a", "b")
	a.Spec.AMIType, b.Spec.AMIType = v1alpha1.AMITypeKubelet, v1alpha1.AMITypeKubelet
	a.UID, b.UID = "uid-1", "uid-2"
	sa, sb := slots(a), slots(b)
	for i := range sa {
		if sa[i].Name == sb[i].Name {
			t.Errorf("groups of two clusters share the real node name %s: machines' names are host-wide", sa[i].Name)
		}
		if errs := validation.IsDNS1123Label(sa[i].Name); len(errs) > 0 {
			t.Errorf("real node name %q is not a DNS label", sa[i].Name)
		}
	}
	if again := slots(a); !slices.Equal(again, sa) {
		t.Errorf("names of the same group changed: %v, %v", sa, again)
	}
}

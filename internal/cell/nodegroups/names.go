package nodegroups

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Node labels the cell sets on every node of a group.
const (
	// LabelNodeGroupID is the node group's object name: how the cell finds a
	// group's Nodes (a node group's own name need not be a label value).
	LabelNodeGroupID = "cellplane.io/nodegroup-id"
	// LabelEKSNodeGroup is the group's name where EKS puts it.
	LabelEKSNodeGroup = "eks.amazonaws.com/nodegroup"
	// LabelZone is the well-known zone label the scheduler spreads over.
	LabelZone = "topology.kubernetes.io/zone"
)

// node is one slot of a group: the i-th node goes to zone i mod zones, so
// the group stays spread whatever its size, and scaling down takes the
// highest slots first.
type node struct {
	Name string
	Zone string
	Slot int
}

// slots are the nodes a group of its desired size has.
func slots(ng *v1alpha1.NodeGroup) []node {
	zones := ng.Spec.Zones
	if len(zones) == 0 {
		return nil
	}
	out := make([]node, 0, ng.Spec.Scaling.DesiredSize)
	for i := range int(ng.Spec.Scaling.DesiredSize) {
		z := zones[i%len(zones)]
		name := nodeName(ng.Spec.NodegroupName, z, i/len(zones))
		if ng.Spec.AMIType == v1alpha1.AMITypeKubelet {
			name += "-" + hostSuffix(ng)
		}
		out = append(out, node{Name: name, Zone: z, Slot: i})
	}
	return out
}

// nodeName is <nodegroup>-<zone>-<index>, the group's name made a DNS label
// (lower case, hyphens); a name that had to change gets a hash of the
// original, so two groups never share node names.
func nodeName(group, zone string, index int) string {
	base := strings.ToLower(strings.ReplaceAll(group, "_", "-"))
	if base != group {
		sum := sha256.Sum256([]byte(group))
		base += "-" + hex.EncodeToString(sum[:3])
	}
	return fmt.Sprintf("%s-%s-%d", base, zone, index)
}

// hostSuffix tells apart the real nodes of groups of the same name in other
// clusters, cells or instances on this host: a machine's name names its
// network namespace and cgroups, which are host-wide. It is from the cell's
// object of the group, which lives as long as the group.
func hostSuffix(ng *v1alpha1.NodeGroup) string {
	sum := sha256.Sum256([]byte(ng.UID))
	return hex.EncodeToString(sum[:3])
}

// nodeLabels are the labels a group's node registers with.
func nodeLabels(ng *v1alpha1.NodeGroup, zone string) map[string]string {
	out := map[string]string{LabelNodeGroupID: ng.Name, LabelZone: zone}
	if len(validation.IsValidLabelValue(ng.Spec.NodegroupName)) == 0 {
		out[LabelEKSNodeGroup] = ng.Spec.NodegroupName
	}
	for k, v := range ng.Spec.Labels {
		out[k] = v
	}
	return out
}

// groupDir holds the group's nodes, each in a directory of its own.
func groupDir(clusterDir string, ng *v1alpha1.NodeGroup) string {
	return filepath.Join(clusterDir, "nodegroups", ng.Name)
}

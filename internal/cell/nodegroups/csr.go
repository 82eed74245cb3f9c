package nodegroups

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"path/filepath"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/nodes/csrapproval"
	"github.com/cellplane/cellplane/internal/nodes/nodeaddr"
)

// kubeletNodes gathers the real nodes of every node group of the cluster
// from their directories, with the addresses their machines were given:
// what a kubelet-serving certificate may name. A node is known from the
// moment its address is claimed until it is removed.
func (g *group) kubeletNodes(ctx context.Context) (csrapproval.Static, error) {
	groups, err := g.kubeletGroups(ctx)
	if err != nil {
		return nil, err
	}
	out := csrapproval.Static{}
	for _, ng := range groups {
		dir := groupDir(g.r.Layout.ClusterDir(g.c), ng)
		names, err := nodeDirs(dir)
		if err != nil {
			continue // its nodes are not known yet
		}
		for _, name := range names {
			k := readIndex(filepath.Join(dir, name))
			if k == 0 {
				continue
			}
			a, err := nodeaddr.Of(k, cellPrefix(g))
			if err != nil {
				continue
			}
			out[name] = []netip.Addr{a.Address}
		}
	}
	return out, nil
}

// kubeletGroups lists the cluster's node groups of real nodes, the one
// being passed over included.
func (g *group) kubeletGroups(ctx context.Context) ([]*v1alpha1.NodeGroup, error) {
	var groups v1alpha1.NodeGroupList
	if err := g.r.Client.List(ctx, &groups, client.InNamespace(g.c.Namespace), client.MatchingLabels{v1alpha1.LabelCluster: g.c.Name}); err != nil {
		return nil, fmt.Errorf("listing node groups of cluster %s: %w", g.c.Spec.Name, err)
	}
	var out []*v1alpha1.NodeGroup
	for i := range groups.Items {
		if isKubelet(&groups.Items[i]) {
			out = append(out, &groups.Items[i])
		}
	}
	return out, nil
}

// reviewServingCSRs decides the cluster's pending kubelet-serving
// certificate requests: approved only for a node of its node groups at its
// own address, denied otherwise. Client certificates are the controller
// manager's business (its csrapproving controller, by the bootstrap RBAC).
func (g *group) reviewServingCSRs(ctx context.Context, log *slog.Logger) error {
	list, err := g.kube.CertificatesV1().CertificateSigningRequests().List(ctx, metav1.ListOptions{FieldSelector: "spec.signerName=" + certificatesv1.KubeletServingSignerName})
	if err != nil {
		return fmt.Errorf("listing certificate signing requests: %w", err)
	}
	var nodes csrapproval.Static
	for i := range list.Items {
		csr := &list.Items[i]
		if _, ok, _ := csrapproval.Decide(ctx, csr, csrapproval.Static{}); !ok {
			continue // decided already, or not a serving request
		}
		if nodes == nil {
			if nodes, err = g.kubeletNodes(ctx); err != nil {
				return err
			}
		}
		d, _, err := csrapproval.Decide(ctx, csr, nodes)
		if err != nil {
			return err
		}
		if _, err := csrapproval.Review(ctx, g.kube, csr, nodes); err != nil {
			return err
		}
		log.Info("reviewed kubelet serving certificate request", "csr", csr.Name, "user", csr.Spec.Username, "approved", d.Approve, "reason", d.Message)
	}
	return nil
}

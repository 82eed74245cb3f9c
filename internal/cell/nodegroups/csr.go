package nodegroups

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/nodes/csrapproval"
	"github.com/cellplane/cellplane/internal/nodes/nodeaddr"
)

// knownNodes are the real nodes of a cluster's node groups, all of them,
// with the addresses their machines were given: what a kubelet-serving
// certificate may name.
type knownNodes map[string][]netip.Addr

func (k knownNodes) Addresses(_ context.Context, node string) ([]netip.Addr, bool, error) {
	a, ok := k[node]
	return a, ok, nil
}

// kubeletNodes gathers the real nodes of every node group of the cluster
// from their directories: a node is known from the moment its address is
// claimed until it is removed.
func (g *group) kubeletNodes(ctx context.Context) (knownNodes, error) {
	var groups v1alpha1.NodeGroupList
	if err := g.r.Client.List(ctx, &groups, client.InNamespace(g.c.Namespace), client.MatchingLabels{v1alpha1.LabelCluster: g.c.Name}); err != nil {
		return nil, fmt.Errorf("listing node groups of cluster %s: %w", g.c.Spec.Name, err)
	}
	out := knownNodes{}
	for i := range groups.Items {
		ng := &groups.Items[i]
		if !isKubelet(ng) {
			continue
		}
		dir := groupDir(g.r.Layout.ClusterDir(g.c), ng)
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue // no nodes yet
		}
		for _, e := range ents {
			if !e.IsDir() {
				continue
			}
			k := readIndex(filepath.Join(dir, e.Name()))
			if k == 0 {
				continue
			}
			a, err := nodeaddr.Of(k, cellPrefix(g))
			if err != nil {
				continue
			}
			out[e.Name()] = []netip.Addr{a.Address}
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
	var nodes knownNodes
	for i := range list.Items {
		csr := &list.Items[i]
		if _, ok, _ := csrapproval.Decide(ctx, csr, knownNodes{}); !ok {
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

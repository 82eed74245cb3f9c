package nodegroups

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/nodes/bootstrap"
	"github.com/cellplane/cellplane/internal/nodes/clusternet"
	"github.com/cellplane/cellplane/internal/nodes/images"
	"github.com/cellplane/cellplane/internal/nodes/machine"
	"github.com/cellplane/cellplane/internal/nodes/nodeaddr"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// Files of a real node's directory, beside the runner's machine.pid and
// machine.log and the rollout file. The machine's own disk is a directory
// of its own, which the machine removes when it stops.
const (
	machineConfigFile = "machine.json"
	addressFile       = "address" // the node's nodeaddr index
	machineDir        = "machine"
	machineProcess    = "machine"
	// tokenFile, in the group's directory, is its bootstrap token.
	tokenFile = "bootstrap-token"
	// machineStopTimeout covers the machine's own stop: every process in
	// its cgroups ends (30 s at most), then its network and files go.
	machineStopTimeout = time.Minute
)

// kubeletNode is one real node's files and process: `cellplane
// node-machine`, which runs the machine its configuration describes.
type kubeletNode struct {
	node
	Dir string
}

func (g *group) kubelet(n node) kubeletNode {
	return kubeletNode{node: n, Dir: filepath.Join(g.dir, n.Name)}
}

// kubeletInputs are what every real node of a pass shares.
type kubeletInputs struct {
	kubelet   string
	images    []string
	bootstrap []byte
	ca        []byte
	network   clusternet.Link
}

// kubeletInputs gathers the kubelet binary, the images, the cluster CA and
// the group's bootstrap kubeconfig.
func (g *group) kubeletInputs(ctx context.Context) (*kubeletInputs, error) {
	ca, err := os.ReadFile(g.plan.Files().CABundle)
	if err != nil {
		return nil, fmt.Errorf("reading the cluster's CA bundle: %w", err)
	}
	tok, err := g.bootstrapToken(ctx)
	if err != nil {
		return nil, err
	}
	kc, err := bootstrap.Kubeconfig(g.plan.Endpoint(), ca, tok)
	if err != nil {
		return nil, err
	}
	archives, err := g.r.nodeImages(ctx, g.nodeBins)
	if err != nil {
		return nil, err
	}
	link, err := g.ensureNetwork(ctx)
	if err != nil {
		return nil, err
	}
	return &kubeletInputs{kubelet: g.nodeBins.Kubelet, images: archives, bootstrap: kc, ca: ca, network: link}, nil
}

// bootstrapToken is the group's bootstrap token: made once with kubeadm's
// RBAC for bootstrapping nodes, kept in the group's directory and made
// again should the cluster have lost it.
func (g *group) bootstrapToken(ctx context.Context) (bootstrap.Token, error) {
	path := filepath.Join(g.dir, tokenFile)
	if b, err := os.ReadFile(path); err == nil { //nolint:gosec // G304: the group's own file
		if tok, err := bootstrap.ParseToken(strings.TrimSpace(string(b))); err == nil {
			_, err := g.kube.CoreV1().Secrets(metav1.NamespaceSystem).Get(ctx, "bootstrap-token-"+tok.ID, metav1.GetOptions{})
			if err == nil {
				return tok, nil
			}
			if !apierrors.IsNotFound(err) {
				return bootstrap.Token{}, fmt.Errorf("reading bootstrap token of node group %s: %w", g.ng.Spec.NodegroupName, err)
			}
		}
	}
	if err := bootstrap.EnsureRBAC(ctx, g.kube); err != nil {
		return bootstrap.Token{}, err
	}
	tok, err := bootstrap.CreateToken(ctx, g.kube, bootstrap.TokenOptions{Description: "nodes of node group " + g.ng.Spec.NodegroupName})
	if err != nil {
		return bootstrap.Token{}, err
	}
	if err := os.MkdirAll(g.dir, 0o700); err != nil {
		return bootstrap.Token{}, fmt.Errorf("creating node group directory: %w", err)
	}
	if err := os.WriteFile(path, []byte(tok.String()), 0o600); err != nil {
		return bootstrap.Token{}, fmt.Errorf("keeping bootstrap token: %w", err)
	}
	return tok, nil
}

// revokeToken deletes the group's bootstrap token from the cluster.
func (g *group) revokeToken(ctx context.Context) error {
	b, err := os.ReadFile(filepath.Join(g.dir, tokenFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading bootstrap token: %w", err)
	}
	tok, err := bootstrap.ParseToken(strings.TrimSpace(string(b)))
	if err != nil {
		return nil //nolint:nilerr // nothing valid to revoke
	}
	return bootstrap.DeleteToken(ctx, g.kube, tok.ID)
}

// nodeImages are the images every real node of a release loads: the pause
// image, the test web server and the add-ons' (kube-proxy of the release,
// CoreDNS), built into the reconciler's image cache once per release.
func (r *Reconciler) nodeImages(ctx context.Context, bins components.NodeBinaries) ([]string, error) {
	r.imagesMu.Lock()
	defer r.imagesMu.Unlock()
	if out, ok := r.images[bins.KubeProxy]; ok {
		return out, nil
	}
	dns, err := r.Binaries.CoreDNS(ctx)
	if err != nil {
		return nil, fmt.Errorf("getting CoreDNS for the nodes' images: %w", err)
	}
	b := images.Builder{Dir: r.ImagesDir}
	if b.Dir == "" {
		b.Dir = filepath.Join(r.Layout.Dir, "node-images")
	}
	out, err := b.NodeArchives(ctx, bins, dns)
	if err != nil {
		return nil, fmt.Errorf("building the nodes' images: %w", err)
	}
	if r.images == nil {
		r.images = map[string][]string{}
	}
	r.images[bins.KubeProxy] = out
	return out, nil
}

// addresses are the node's addresses, from its index, claimed once and kept
// in its directory (so a restarted cell finds the same ones).
func (g *group) addresses(k kubeletNode) (nodeaddr.Addresses, error) {
	prefer := readIndex(k.Dir)
	idx, err := g.r.NodeAddresses.Claim(k.Name, prefer)
	if err != nil {
		return nodeaddr.Addresses{}, err
	}
	if idx != prefer {
		if err := os.WriteFile(filepath.Join(k.Dir, addressFile), []byte(strconv.Itoa(idx)), 0o600); err != nil {
			return nodeaddr.Addresses{}, fmt.Errorf("recording address of node %s: %w", k.Name, err)
		}
	}
	return nodeaddr.Of(idx, cellPrefix(g))
}

func readIndex(dir string) int {
	b, err := os.ReadFile(filepath.Join(dir, addressFile)) //nolint:gosec // G304: the node's own file
	if err != nil {
		return 0
	}
	k, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return k
}

func cellPrefix(g *group) netip.Prefix {
	p, _ := netip.AddrFromSlice(g.r.Layout.Cell.Prefix().IP.To4())
	ones, _ := g.r.Layout.Cell.Prefix().Mask.Size()
	return netip.PrefixFrom(p, ones).Masked()
}

func storeAddr(g *group) netip.Addr {
	a, _ := netip.AddrFromSlice(g.r.Layout.Cell.StoreIP().To4())
	return a
}

// prepare writes the node's machine configuration and rollout.
func (k kubeletNode) prepare(g *group, in *kubeletInputs) error {
	if err := os.MkdirAll(k.Dir, 0o700); err != nil {
		return fmt.Errorf("creating node directory: %w", err)
	}
	a, err := g.addresses(k)
	if err != nil {
		return err
	}
	cfg := machine.Config{
		Name: k.Name, Dir: filepath.Join(k.Dir, machineDir),
		Address: a.Address, PodCIDR: a.PodCIDR,
		CellPrefix: cellPrefix(g), HostAddress: storeAddr(g), CellSource: a.CellSource,
		BootstrapKubeconfig: in.bootstrap, ClientCA: in.ca, Kubelet: in.kubelet,
		Images: in.images, SandboxImage: images.Pause.Ref,
		Network: &in.network,
		Labels:  nodeLabels(g.ng, k.Zone), Taints: registration(g.ng, k.Zone).Taints,
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("writing configuration of node %s: %w", k.Name, err)
	}
	if err := writeIfChanged(filepath.Join(k.Dir, machineConfigFile), b); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(k.Dir, rolloutFile)); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(filepath.Join(k.Dir, rolloutFile), []byte(strconv.Itoa(int(g.ng.Spec.Rollout))), 0o600); err != nil {
			return fmt.Errorf("writing rollout of node %s: %w", k.Name, err)
		}
	}
	return nil
}

// spec is the node's process. The configuration file is read at every
// start; a changed one restarts nothing (the cell patches labels and
// taints on the running Node).
func (k kubeletNode) spec(id, cellplane string, cg process.Cgroup) process.Spec {
	return process.Spec{ID: id, Path: cellplane, Args: []string{"node-machine", "--config", filepath.Join(k.Dir, machineConfigFile)},
		StateDir: k.Dir, Name: machineProcess, Cgroup: cg, StopTimeout: machineStopTimeout}
}

func (k kubeletNode) stopSpec(id string) process.Spec {
	return process.Spec{ID: id, StateDir: k.Dir, Name: machineProcess, StopTimeout: machineStopTimeout}
}

// removeKubelet stops a real node's process, then removes what its machine
// may have left (a process killed before it stopped its machine) and gives
// its addresses back.
func (g *group) removeKubelet(ctx context.Context, name string) error {
	k := g.kubelet(node{Name: name})
	if err := g.r.Runner.Stop(ctx, k.stopSpec(g.processID(name))); err != nil {
		return fmt.Errorf("stopping node %s: %w", name, err)
	}
	if err := machine.Remove(name, filepath.Join(k.Dir, machineDir)); err != nil {
		return fmt.Errorf("removing machine of node %s: %w", name, err)
	}
	return g.r.NodeAddresses.Release(name, readIndex(k.Dir))
}

// ensureKubelets starts, or adopts after a cell restart, every wanted real
// node.
func (g *group) ensureKubelets(ctx context.Context) error {
	in, err := g.kubeletInputs(ctx)
	if err != nil {
		return err
	}
	for _, n := range g.want {
		k := g.kubelet(n)
		if err := k.prepare(g, in); err != nil {
			return err
		}
		if _, err := g.r.Runner.Ensure(ctx, k.spec(g.processID(n.Name), g.r.Layout.Cellplane, cgroupArg(g.cg))); err != nil {
			return fmt.Errorf("starting node %s: %w", n.Name, err)
		}
	}
	return nil
}

// isKubelet reports whether ng runs real nodes.
func isKubelet(ng *v1alpha1.NodeGroup) bool { return ng.Spec.AMIType == v1alpha1.AMITypeKubelet }

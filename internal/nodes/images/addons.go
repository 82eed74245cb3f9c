package images

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/cellplane/cellplane/internal/addoncatalog"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/pki"
)

// kubeProxyPath is where kube-proxy is in its image: the add-on's
// DaemonSet runs it from there.
const kubeProxyPath = "/usr/local/bin/kube-proxy"

// coreDNSPath is where CoreDNS is in its image, as the add-on's
// Deployment runs it.
const coreDNSPath = "/coredns"

// xtablesMulti is iptables 1.8's program with the nf_tables backend,
// which the iptables, iptables-save and iptables-restore that kube-proxy
// runs are links to. The nft backend, as Debian's default alternative
// selects it: it needs no legacy ip_tables, and every match and target
// kube-proxy writes is in this kernel (nft_compat).
const xtablesMulti = "/usr/sbin/xtables-nft-multi"

// nftProgram is the nft command, which kube-proxy runs in mode nftables.
const nftProgram = "/usr/sbin/nft"

// iptablesNames are the commands kube-proxy's iptables mode runs
// (k8s.io/kubernetes/pkg/util/iptables), all xtablesMulti by another name.
var iptablesNames = []string{"iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save", "ip6tables-restore"}

// xtablesExtensions finds the iptables extensions (libxt_*.so, loaded by
// name for each match and target) where Debian's multiarch layout puts
// them.
const xtablesExtensions = "/usr/lib/*/xtables/*.so"

// kubeProxyEnv is the image's environment: kube-proxy finds iptables and
// nft on the PATH.
var kubeProxyEnv = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}

// KubeProxyRef is the name of kube-proxy's image at a release, as the
// add-on's DaemonSet names it.
func KubeProxyRef(version string) string {
	return addoncatalog.Image(addoncatalog.KubeProxy, version)
}

// CoreDNSRef is the name of CoreDNS's image at a release.
func CoreDNSRef(version string) string {
	return addoncatalog.Image(addoncatalog.CoreDNS, version)
}

// NodeArchives returns the archive of every image a node of a release
// runs, in the order to load them: pause, the test web server, kube-proxy
// of the node's release (its binary and the host's iptables and nft
// userland) and CoreDNS. Each is built once and then served from the cache.
func (b Builder) NodeArchives(ctx context.Context, node components.NodeBinaries, coreDNS components.CoreDNSBinaries) ([]string, error) {
	var out []string
	for _, img := range []Image{Pause, WebServer} {
		p, err := b.Archive(ctx, img)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	kp, err := b.KubeProxyArchive(ctx, node.Release.Version, node.KubeProxy)
	if err != nil {
		return nil, err
	}
	dns, err := b.CoreDNSArchive(ctx, coreDNS.Version, coreDNS.CoreDNS)
	if err != nil {
		return nil, err
	}
	return append(out, kp, dns), nil
}

// KubeProxyArchive returns the archive of kube-proxy's image at version:
// the binary at bin, and from the host the iptables (nf_tables backend)
// and nft programs with their extensions and every shared library they
// load, copied at build time.
func (b Builder) KubeProxyArchive(ctx context.Context, version, bin string) (string, error) {
	files, err := kubeProxyFiles(ctx, "/", bin, lddLibraries)
	if err != nil {
		return "", fmt.Errorf("gathering kube-proxy's image: %w", err)
	}
	return b.cached("kube-proxy", spec{
		ref: KubeProxyRef(version), files: files,
		entrypoint: []string{kubeProxyPath}, env: kubeProxyEnv,
	})
}

// kubeProxyFiles are the layer's files, the host's taken from under root
// with the libraries that libraries lists.
func kubeProxyFiles(ctx context.Context, root, bin string, libraries libraryLister) ([]file, error) {
	data, err := os.ReadFile(bin) //nolint:gosec // G304: the cached component
	if err != nil {
		return nil, fmt.Errorf("reading kube-proxy: %w", err)
	}
	t := newHostTree(root)
	exts, err := filepath.Glob(filepath.Join(root, xtablesExtensions))
	if err != nil {
		return nil, fmt.Errorf("finding the iptables extensions: %w", err)
	}
	if len(exts) == 0 {
		return nil, fmt.Errorf("no iptables extensions at %s (is Debian's iptables package installed?)", xtablesExtensions)
	}
	programs := []string{xtablesMulti, nftProgram}
	for _, e := range exts {
		rel, err := filepath.Rel(root, e)
		if err != nil {
			return nil, fmt.Errorf("finding the iptables extensions: %w", err)
		}
		programs = append(programs, "/"+filepath.ToSlash(rel))
	}
	if err := t.addWithLibraries(ctx, programs, libraries); err != nil {
		return nil, err
	}
	for _, n := range iptablesNames {
		t.link("/usr/sbin/"+n, filepath.Base(xtablesMulti))
	}
	t.files[kubeProxyPath] = file{path: kubeProxyPath, mode: 0o755, data: data}
	return t.list(), nil
}

// CoreDNSArchive returns the archive of CoreDNS's image at version: the
// binary at bin as /coredns, run as root with the capabilities its
// Deployment leaves it (NET_BIND_SERVICE, for port 53).
func (b Builder) CoreDNSArchive(_ context.Context, version, bin string) (string, error) {
	data, err := os.ReadFile(bin) //nolint:gosec // G304: the cached component
	if err != nil {
		return "", fmt.Errorf("reading CoreDNS: %w", err)
	}
	return b.cached("coredns", spec{
		ref:        CoreDNSRef(version),
		files:      []file{{path: coreDNSPath, mode: 0o755, data: data}},
		entrypoint: []string{coreDNSPath},
	})
}

// cached returns the path of s's archive in the cache, named for its
// content, writing it unless it is there.
func (b Builder) cached(name string, s spec) (string, error) {
	path := filepath.Join(b.Dir, name+"-"+specSum(s)+".tar")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	data, err := ociArchive(s)
	if err != nil {
		return "", fmt.Errorf("building image %s: %w", s.ref, err)
	}
	if err := os.MkdirAll(b.Dir, 0o700); err != nil {
		return "", fmt.Errorf("creating image cache: %w", err)
	}
	if err := pki.WriteFileAtomic(path, data, 0o600); err != nil {
		return "", fmt.Errorf("writing image %s: %w", s.ref, err)
	}
	return path, nil
}

// specSum is a short hash of everything that makes up s's image.
func specSum(s spec) string {
	h := sha256.New()
	field := func(b []byte) {
		_ = binary.Write(h, binary.BigEndian, uint64(len(b))) // a hash.Hash never fails to write
		_, _ = h.Write(b)
	}
	field([]byte(s.ref))
	field([]byte(runtime.GOARCH))
	field([]byte(strings.Join(s.entrypoint, "\x00")))
	field([]byte(s.user))
	field([]byte(strings.Join(s.env, "\x00")))
	files := slices.Clone(s.files)
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.path, b.path) })
	for _, f := range files {
		sum := sha256.Sum256(f.data)
		field(bytes.Join([][]byte{[]byte(f.path), []byte(f.link), []byte(fmt.Sprint(f.mode)), sum[:]}, []byte{0}))
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

package images

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

func TestParseLdd(t *testing.T) {
	for _, tc := range []struct {
		name, out string
		want      []string
		err       bool
	}{
		{name: "dynamic", out: "\tlinux-vdso.so.1 (0x00007ffd)\n" +
			"\tlibxtables.so.12 => /lib/x86_64-linux-gnu/libxtables.so.12 (0x00007fda14704000)\n" +
			"\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007fda144e7000)\n" +
			"\t/lib64/ld-linux-x86-64.so.2 (0x00007fda147cc000)\n",
			want: []string{"/lib/x86_64-linux-gnu/libxtables.so.12", "/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}},
		{name: "static", out: "\tstatically linked\n"},
		{name: "not dynamic", out: "\tnot a dynamic executable\n"},
		{name: "missing library", out: "\tlibgone.so.1 => not found\n\tlibc.so.6 => /lib/libc.so.6 (0x1)\n", err: true},
		{name: "nothing", out: "\tlinux-vdso.so.1 (0x1)\n", err: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLdd(tc.out)
			if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("parseLdd: %q, %v; want %q, error %v", got, err, tc.want, tc.err)
			}
		})
	}
}

// A tree laid out like Debian's merged /usr: the image keeps the host's
// symlinks on the way to each file and puts the file where it really is.
func TestKubeProxyFilesKeepHostLayout(t *testing.T) {
	root := t.TempDir()
	write := func(p, data string) {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	symlink := func(p, target string) {
		if err := os.Symlink(target, filepath.Join(root, p)); err != nil {
			t.Fatal(err)
		}
	}
	write("usr/lib/x86_64-linux-gnu/libc.so.6", "libc")
	write("usr/lib/x86_64-linux-gnu/libxtables.so.12.7.0", "libxtables")
	symlink("usr/lib/x86_64-linux-gnu/libxtables.so.12", "libxtables.so.12.7.0")
	write("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", "ld.so")
	write("usr/lib64/.keep", "")
	symlink("usr/lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2")
	symlink("lib", "usr/lib")
	symlink("lib64", "usr/lib64")
	write("usr/lib/x86_64-linux-gnu/xtables/libxt_comment.so", "comment")
	write("usr/sbin/xtables-nft-multi", "xtables")
	write("usr/sbin/nft", "nft")
	bin := filepath.Join(t.TempDir(), "kube-proxy")
	if err := os.WriteFile(bin, []byte("kube-proxy"), 0o755); err != nil {
		t.Fatal(err)
	}
	libs := func(_ context.Context, p string) ([]string, error) {
		common := []string{"/lib/x86_64-linux-gnu/libc.so.6", "/lib64/ld-linux-x86-64.so.2"}
		if strings.Contains(p, "xt") {
			return append([]string{"/lib/x86_64-linux-gnu/libxtables.so.12"}, common...), nil
		}
		return common, nil
	}
	files, err := kubeProxyFiles(context.Background(), root, bin, libs)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range files {
		if f.link != "" {
			got[f.path] = "-> " + f.link
		} else {
			got[f.path] = string(f.data)
		}
	}
	want := map[string]string{
		"/usr/local/bin/kube-proxy":                          "kube-proxy",
		"/usr/sbin/xtables-nft-multi":                        "xtables",
		"/usr/sbin/nft":                                      "nft",
		"/usr/sbin/iptables":                                 "-> xtables-nft-multi",
		"/usr/sbin/iptables-save":                            "-> xtables-nft-multi",
		"/usr/sbin/iptables-restore":                         "-> xtables-nft-multi",
		"/usr/sbin/ip6tables":                                "-> xtables-nft-multi",
		"/usr/sbin/ip6tables-save":                           "-> xtables-nft-multi",
		"/usr/sbin/ip6tables-restore":                        "-> xtables-nft-multi",
		"/usr/lib/x86_64-linux-gnu/xtables/libxt_comment.so": "comment",
		"/lib":                                "-> usr/lib",
		"/lib64":                              "-> usr/lib64",
		"/usr/lib/x86_64-linux-gnu/libc.so.6": "libc",
		"/usr/lib/x86_64-linux-gnu/libxtables.so.12":     "-> libxtables.so.12.7.0",
		"/usr/lib/x86_64-linux-gnu/libxtables.so.12.7.0": "libxtables",
		"/usr/lib64/ld-linux-x86-64.so.2":                "-> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
		"/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": "ld.so",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("files:\n got %v\nwant %v", got, want)
	}
	// The layer: directories before what is in them, none where a symlink is.
	data, err := layerTar(files)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(bytes.NewReader(data))
	seen := map[string]byte{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(h.Name, "/")
		if dir := filepath.Dir(name); dir != "." && seen[dir] != tar.TypeDir {
			t.Errorf("%s comes before its directory %s (%q)", h.Name, dir, seen[dir])
		}
		if _, dup := seen[name]; dup {
			t.Errorf("%s twice in the layer", name)
		}
		seen[name] = h.Typeflag
	}
	if seen["lib"] != tar.TypeSymlink || seen["usr/sbin/iptables"] != tar.TypeSymlink || seen["usr/sbin/nft"] != tar.TypeReg {
		t.Errorf("layer entries: %v", seen)
	}

	// A missing program is an error, not an image without it.
	if err := os.Remove(filepath.Join(root, "usr/sbin/nft")); err != nil {
		t.Fatal(err)
	}
	if _, err := kubeProxyFiles(context.Background(), root, bin, libs); err == nil {
		t.Error("kube-proxy's files without nft: no error")
	}
}

// The real image from this host's packages: iptables runs from the
// image's own tree (chrooted, in a network namespace of its own, so no
// rule touches the host) and answers with its nf_tables backend.
func TestKubeProxyArchiveRunsIPTables(t *testing.T) {
	if _, err := os.Stat(xtablesMulti); err != nil {
		t.Skipf("no iptables here: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("chroot and unshare need root")
	}
	ctx := context.Background()
	bin := filepath.Join(t.TempDir(), "kube-proxy")
	if err := os.WriteFile(bin, []byte("#!/bin/false\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := Builder{Dir: t.TempDir()}
	p, err := b.KubeProxyArchive(ctx, "v1.35.4", bin)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := b.KubeProxyArchive(ctx, "v1.35.4", bin); err != nil || again != p {
		t.Fatalf("second build: %s, %v; want the cached %s", again, err, p)
	}
	idx, err := layout.ImageIndexFromPath(untar(t, p))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Annotations["io.containerd.image.name"] != "cellplane.local/kube-proxy:v1.35.4" {
		t.Fatalf("index %+v, %v", im, err)
	}
	image, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := image.ConfigFile()
	if err != nil || !reflect.DeepEqual(cf.Config.Entrypoint, []string{kubeProxyPath}) || !reflect.DeepEqual(cf.Config.Env, kubeProxyEnv) {
		t.Fatalf("config %+v, %v", cf, err)
	}
	layers, err := image.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %v, %v", layers, err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	rootfs := unpack(t, rc)
	for _, args := range [][]string{{"iptables", "--version"}, {"iptables-save", "-t", "nat"}, {"ip6tables-restore", "--version"}, {"nft", "--version"}} {
		cmd := exec.Command("unshare", append([]string{"--net", "--", "chroot", rootfs}, args...)...)
		cmd.Env = kubeProxyEnv
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%v in the image: %v: %s", args, err, out)
			continue
		}
		if args[0] == "iptables" && !strings.Contains(string(out), "nf_tables") {
			t.Errorf("iptables in the image is %q: want the nf_tables backend", out)
		}
	}
	// -m comment and the other matches load their extensions from the image.
	out, err := exec.Command("unshare", "--net", "--", "chroot", rootfs, "iptables", "-t", "nat", "-A", "POSTROUTING",
		"-m", "comment", "--comment", "test", "-m", "statistic", "--mode", "random", "--probability", "0.5", "-j", "MASQUERADE").CombinedOutput()
	if err != nil {
		t.Errorf("a rule with extensions in the image: %v: %s", err, out)
	}
}

// unpack writes a layer's regular files, directories and symlinks under a
// temporary directory.
func unpack(t *testing.T, r io.ReadCloser) string {
	t.Helper()
	defer func() { _ = r.Close() }()
	dir := t.TempDir()
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return dir
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, h.Name) //nolint:gosec // G305: the test's own image
		switch h.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(p, 0o755)
		case tar.TypeSymlink:
			err = os.Symlink(h.Linkname, p)
		case tar.TypeReg:
			var b []byte
			if b, err = io.ReadAll(tr); err == nil {
				err = os.WriteFile(p, b, os.FileMode(h.Mode)) //nolint:gosec // G115: a tar mode
			}
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

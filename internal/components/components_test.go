package components

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestLookup(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    string // Version; empty means an error
		comment string
	}{
		{in: "1.35", want: "v1.35.4", comment: "minor"},
		{in: "v1.35.4", want: "v1.35.4", comment: "exact version"},
		{in: "1.33", comment: "minor not offered"},
		{in: "v1.35.3", comment: "another patch of an offered minor"},
		{in: "1.35.4", comment: "exact version without its v"},
		{in: "v1.35", comment: "minor with a v"},
		{in: "", comment: "empty: callers resolve the default themselves"},
	} {
		t.Run(tc.comment, func(t *testing.T) {
			r, err := Lookup(tc.in)
			if tc.want != "" {
				if err != nil || r.Version != tc.want {
					t.Fatalf("Lookup(%q) = %+v, %v; want %s", tc.in, r, err, tc.want)
				}
				return
			}
			if !errors.Is(err, ErrUnknownVersion) {
				t.Fatalf("Lookup(%q) error = %v, want ErrUnknownVersion", tc.in, err)
			}
			for _, m := range minors() {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("Lookup(%q) error %q does not list supported version %s", tc.in, err, m)
				}
			}
			if !strings.Contains(err.Error(), `"`+tc.in+`"`) {
				t.Errorf("Lookup(%q) error %q does not quote the request", tc.in, err)
			}
		})
	}
}

func TestDefaultIsNewestRelease(t *testing.T) {
	rs := Releases()
	if len(rs) == 0 {
		t.Fatal("no releases offered")
	}
	if got := Default(); got != rs[len(rs)-1] {
		t.Fatalf("Default() = %+v, want the newest release %+v", got, rs[len(rs)-1])
	}
	if r, err := Lookup(Default().Minor); err != nil || r != Default() {
		t.Fatalf("Lookup(Default().Minor) = %+v, %v", r, err)
	}
	rs[len(rs)-1].Version = "mutated"
	if Default().Version == "mutated" {
		t.Fatal("Releases() returned the package's own slice")
	}
}

// A trimmed k8s.io/kubernetes go.mod: a replace block as upstream writes it, plus
// the single-line form and replaces that do not point at staging.
const kubernetesGoMod = `module k8s.io/kubernetes

go 1.25.0

require (
	k8s.io/api v0.0.0
	k8s.io/client-go v0.0.0
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/client-go => ./staging/src/k8s.io/client-go
	github.com/example/fork => github.com/example/fork v1.2.3
	k8s.io/component-base => ./staging/src/k8s.io/component-base
)

replace k8s.io/apimachinery => ./staging/src/k8s.io/apimachinery

replace github.com/other/mod => ../other/mod
`

func TestParseStaging(t *testing.T) {
	got := parseStaging([]byte(kubernetesGoMod))
	want := []string{"k8s.io/api", "k8s.io/apimachinery", "k8s.io/client-go", "k8s.io/component-base"}
	if !slices.Equal(got, want) {
		t.Fatalf("parseStaging = %q, want %q", got, want)
	}
	if got := parseStaging(nil); len(got) != 0 {
		t.Fatalf("parseStaging(nil) = %q, want nothing", got)
	}
}

func TestParseStagingOtherSyntax(t *testing.T) {
	gomod := "replace k8s.io/api v0.0.0 => ./staging/src/k8s.io/api\n" +
		"replace k8s.io/client-go => ./staging/src/k8s.io/client-go // pinned\n" +
		"// replace k8s.io/commented => ./staging/src/k8s.io/commented\n"
	got := parseStaging([]byte(gomod))
	want := []string{"k8s.io/api", "k8s.io/client-go"}
	if !slices.Equal(got, want) {
		t.Fatalf("parseStaging = %q, want %q", got, want)
	}
}

func TestBinaryName(t *testing.T) {
	for _, tc := range []struct{ pkg, want string }{
		{"go.etcd.io/etcd/server/v3", "server"},
		{"go.etcd.io/etcd/etcdctl/v3", "etcdctl"},
		{"k8s.io/kubernetes/cmd/kubectl", "kubectl"},
		{"k8s.io/kubernetes/cmd/kube-apiserver", "kube-apiserver"},
		{"example.com/tool/v12", "tool"},
		{"example.com/v", "v"},           // a bare "v" is not a version suffix
		{"example.com/vet", "vet"},       // nor is a name starting with v
		{"example.com/v2beta", "v2beta"}, // nor a pre-release-looking element
	} {
		if got := binaryName(tc.pkg); got != tc.want {
			t.Errorf("binaryName(%q) = %q, want %q", tc.pkg, got, tc.want)
		}
	}
}

func TestNewLines(t *testing.T) {
	have := []byte("a v1 h1:x\na v1/go.mod h1:y\n")
	for _, tc := range []struct {
		name string
		got  string
		want []string
	}{
		{"all known", "a v1 h1:x\n", nil},
		{"one new", "a v1 h1:x\nb v2 h1:z\n", []string{"b v2 h1:z"}},
		{"blank lines ignored", "\n\nb v2 h1:z\n\n", []string{"b v2 h1:z"}},
		{"empty", "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := newLines(have, []byte(tc.got)); !slices.Equal(got, tc.want) {
				t.Fatalf("newLines = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMergeSums(t *testing.T) {
	for _, tc := range []struct {
		name, a, b, want string
	}{
		{"union sorted", "b v1 h1:b\n", "a v1 h1:a\n", "a v1 h1:a\nb v1 h1:b\n"},
		{"duplicates once", "a v1 h1:a\n", "a v1 h1:a\n", "a v1 h1:a\n"},
		{"whitespace and blanks dropped", "  a v1 h1:a  \n\n", "\r\nc v1 h1:c", "a v1 h1:a\nc v1 h1:c\n"},
		{"no trailing newline on input", "a v1 h1:a", "b v1 h1:b", "a v1 h1:a\nb v1 h1:b\n"},
		{"both empty", "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(mergeSums([]byte(tc.a), []byte(tc.b))); got != tc.want {
				t.Fatalf("mergeSums = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCommittedSumsAreMerged(t *testing.T) {
	// make components-sum rewrites components.sum with mergeSums; a committed file
	// that is not already in that form would churn on every run.
	if got := mergeSums(componentsSum, nil); string(got) != string(componentsSum) {
		t.Fatal("components.sum is not sorted and deduplicated; run make components-sum")
	}
	if len(newLines(componentsSum, componentsSum)) != 0 {
		t.Fatal("newLines reports lines of components.sum as new against itself")
	}
}

func TestKubernetesBuild(t *testing.T) {
	spec := kubernetesBuild(Release{Minor: "1.35", Version: "v1.35.4"}, controlPlaneCommands)
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		for _, want := range []string{
			"-X " + pkg + ".gitVersion=v1.35.4",
			"-X " + pkg + ".gitMajor=1",
			"-X " + pkg + ".gitMinor=35",
			"-X " + pkg + ".gitTreeState=clean",
		} {
			if !slices.Contains(xflags(spec.ldflags), want) {
				t.Errorf("ldflags %q lack %q", spec.ldflags, want)
			}
		}
	}
	if spec.stagingVersion != "v0.35.4" {
		t.Errorf("stagingVersion = %q, want v0.35.4", spec.stagingVersion)
	}
	if spec.staging != "k8s.io/kubernetes@v1.35.4" {
		t.Errorf("staging = %q", spec.staging)
	}
	if !slices.Equal(spec.requires, []string{"k8s.io/kubernetes v1.35.4"}) {
		t.Errorf("requires = %q", spec.requires)
	}
	var names []string
	for _, p := range spec.packages {
		names = append(names, binaryName(p))
	}
	// Cache.Kubernetes hands out these paths; each must be something the
	// build makes, and nothing else: an older minor kept for upgrades pays
	// for its control plane only.
	if want := []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}; !slices.Equal(names, want) {
		t.Errorf("build makes %q, want %q", names, want)
	}
	var tools []string
	for _, p := range kubernetesBuild(Release{Minor: "1.35", Version: "v1.35.4"}, toolCommands).packages {
		tools = append(tools, binaryName(p))
	}
	if want := []string{"kubectl", "kubemark"}; !slices.Equal(tools, want) {
		t.Errorf("tools build makes %q, want %q", tools, want)
	}
}

// xflags splits ldflags into its "-X name=value" settings.
func xflags(ldflags string) []string {
	f := strings.Fields(ldflags)
	var out []string
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "-X" {
			out = append(out, "-X "+f[i+1])
		}
	}
	return out
}

func TestEtcdBuild(t *testing.T) {
	spec := etcdBuild()
	if spec.staging != "" {
		t.Errorf("etcd build has staging %q", spec.staging)
	}
	for _, r := range spec.requires {
		if !strings.HasSuffix(r, " "+EtcdVersion) {
			t.Errorf("requirement %q is not pinned to %s", r, EtcdVersion)
		}
	}
	names := spec.binaries()
	if want := []string{"etcd", "etcdctl", "etcdutl"}; !slices.Equal(names, want) {
		t.Fatalf("installed binaries = %q, want %q", names, want)
	}
}

func TestDefaultCacheDir(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Skipf("no home directory: %v", err)
	}
	for _, tc := range []struct {
		name, cellplane, xdg, want string
	}{
		{"cellplane wins", "/c/cache", "/x", "/c/cache"},
		{"xdg", "", "/x", "/x/cellplane"},
		{"home", "", "", filepath.Join(home, ".cache", "cellplane")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CELLPLANE_CACHE_DIR", tc.cellplane)
			t.Setenv("XDG_CACHE_HOME", tc.xdg)
			if got := DefaultCacheDir(); got != tc.want {
				t.Fatalf("DefaultCacheDir() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestNewFillsDefaults(t *testing.T) {
	t.Setenv("CELLPLANE_CACHE_DIR", "/from/env")
	c := New(Config{})
	if c.cfg.CacheDir != "/from/env" || c.cfg.Go != "go" || c.cfg.Progress == nil {
		t.Fatalf("New(Config{}) = %+v", c.cfg)
	}
}

// markComplete makes dir look like a finished build, as the code before
// binary hashes left it: the binaries (stand-ins) and .complete, no manifest.
func markComplete(t *testing.T, dir string, binaries ...string) {
	t.Helper()
	writeBinaries(t, dir, binaries...)
	if err := os.WriteFile(filepath.Join(dir, ".complete"), []byte("done\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// failingGo is a go command that fails if it is ever run.
const failingGo = "/bin/false"

func TestCacheReturnsCompleteBuildsWithoutBuilding(t *testing.T) {
	dir := t.TempDir()
	c := New(Config{CacheDir: dir, Go: failingGo})
	ctx := context.Background()
	if c.Cached() {
		t.Fatal("Cached() on an empty cache")
	}

	kubeDir := filepath.Join(dir, "kubernetes-"+Default().Version)
	markComplete(t, kubeDir, kubernetesBuild(Default(), controlPlaneCommands).binaries()...)
	kube, err := c.Kubernetes(ctx, Default())
	if err != nil {
		t.Fatalf("Kubernetes on a complete cache entry: %v", err)
	}
	want := KubernetesBinaries{
		Release:               Default(),
		KubeAPIServer:         filepath.Join(kubeDir, "kube-apiserver"),
		KubeControllerManager: filepath.Join(kubeDir, "kube-controller-manager"),
		KubeScheduler:         filepath.Join(kubeDir, "kube-scheduler"),
	}
	if kube != want {
		t.Fatalf("Kubernetes = %+v, want %+v", kube, want)
	}
	if c.Cached() {
		t.Fatal("Cached() while etcd is missing")
	}

	etcdDir := filepath.Join(dir, "etcd-"+EtcdVersion)
	markComplete(t, etcdDir, etcdBuild().binaries()...)
	etcd, err := c.Etcd(ctx)
	if err != nil {
		t.Fatalf("Etcd on a complete cache entry: %v", err)
	}
	if etcd.Etcd != filepath.Join(etcdDir, "etcd") || etcd.Etcdctl != filepath.Join(etcdDir, "etcdctl") || etcd.Version != EtcdVersion {
		t.Fatalf("Etcd = %+v", etcd)
	}
	if !c.Cached() {
		t.Fatal("Cached() = false with every release complete")
	}
}

func TestCacheFailedBuildLeavesNoEntry(t *testing.T) {
	// Also proves the premise of the test above: without .complete the cache does
	// run the go command, and /bin/false makes that fail.
	dir := t.TempDir()
	c := New(Config{CacheDir: dir, Go: failingGo})
	ctx := context.Background()
	if _, err := c.Kubernetes(ctx, Default()); err == nil {
		t.Fatal("Kubernetes built with a failing go command")
	}
	if _, err := c.Etcd(ctx); err == nil {
		t.Fatal("Etcd built with a failing go command")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != ".lock" {
			t.Errorf("failed build left %s in the cache", e.Name())
		}
	}
}

func TestInstall(t *testing.T) {
	spec := etcdBuild()
	t.Run("renames and marks complete", func(t *testing.T) {
		root := t.TempDir()
		out, dir := filepath.Join(root, "bin"), filepath.Join(root, "etcd")
		writeBinaries(t, out, "server", "etcdctl", "etcdutl")
		markComplete(t, dir) // a stale entry is replaced, not merged into
		if err := os.WriteFile(filepath.Join(dir, "stale"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := install(out, dir, spec); err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"etcd", "etcdctl", "etcdutl", ".complete", manifestFile} {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				t.Errorf("installed entry lacks %s: %v", name, err)
			}
		}
		for _, name := range []string{"server", "stale"} {
			if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
				t.Errorf("installed entry still has %s", name)
			}
		}
	})
	t.Run("missing binary", func(t *testing.T) {
		root := t.TempDir()
		out, dir := filepath.Join(root, "bin"), filepath.Join(root, "etcd")
		writeBinaries(t, out, "server", "etcdctl")
		err := install(out, dir, spec)
		if !errors.Is(err, errIncomplete) || !strings.Contains(err.Error(), "etcdutl") {
			t.Fatalf("install = %v, want errIncomplete naming etcdutl", err)
		}
		if complete(dir) {
			t.Fatal("an incomplete build was marked complete")
		}
	})
}

func writeBinaries(t *testing.T, dir string, names ...string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/false\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

package components

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// buildSpec describes one go build of a set of upstream commands.
type buildSpec struct {
	title    string
	requires []string // "module version" lines of the build module
	// staging names a module whose go.mod points its staging modules at local paths;
	// the build module pins each of them to stagingVersion instead.
	staging, stagingVersion string
	packages                []string
	ldflags                 string
	// rename maps go's binary name to ours where they differ (server → etcd).
	rename map[string]string
}

var (
	controlPlaneCommands = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}
	toolCommands         = []string{"kubectl", "kubemark"}
)

// kubernetesBuild builds cmds of release r with the version stamps upstream's
// own build sets.
func kubernetesBuild(r Release, cmds []string) buildSpec {
	major, minor, _ := strings.Cut(strings.TrimPrefix(r.Minor, "v"), ".")
	var ld []string
	// Without these the binaries report v0.0.0 and kubectl version skew checks break.
	for _, pkg := range []string{"k8s.io/component-base/version", "k8s.io/client-go/pkg/version"} {
		ld = append(ld,
			"-X "+pkg+".gitVersion="+r.Version,
			"-X "+pkg+".gitMajor="+major,
			"-X "+pkg+".gitMinor="+minor,
			"-X "+pkg+".gitTreeState=clean",
			"-X "+pkg+".buildDate=1970-01-01T00:00:00Z")
	}
	pkgs := make([]string, len(cmds))
	for i, c := range cmds {
		pkgs[i] = "k8s.io/kubernetes/cmd/" + c
	}
	return buildSpec{
		title:          "Kubernetes " + r.Version + " (" + strings.Join(cmds, ", ") + ")",
		requires:       []string{"k8s.io/kubernetes " + r.Version},
		staging:        "k8s.io/kubernetes@" + r.Version,
		stagingVersion: "v0" + strings.TrimPrefix(r.Version, "v1"),
		packages:       pkgs,
		ldflags:        strings.Join(ld, " "),
	}
}

func etcdBuild() buildSpec {
	mods := []string{"go.etcd.io/etcd/server/v3", "go.etcd.io/etcd/etcdctl/v3", "go.etcd.io/etcd/etcdutl/v3"}
	req := make([]string, len(mods))
	for i, m := range mods {
		req[i] = m + " " + EtcdVersion
	}
	return buildSpec{
		title:    "etcd " + EtcdVersion + " (etcd, etcdctl, etcdutl)",
		requires: req,
		packages: mods,
		rename:   map[string]string{"server": "etcd"},
	}
}

func (c *Cache) build(ctx context.Context, dir string, spec buildSpec) error {
	work, err := os.MkdirTemp(c.cfg.CacheDir, ".build-")
	if err != nil {
		return fmt.Errorf("creating build directory: %w", err)
	}
	// A build directory left behind costs only disk; the build's own result is
	// what the caller needs to hear about.
	defer func() { _ = os.RemoveAll(work) }()
	if err := c.writeModule(ctx, work, spec); err != nil {
		return err
	}
	out := filepath.Join(work, "bin")
	args := []string{"build", "-trimpath", "-ldflags", "-s -w " + spec.ldflags, "-o", out + "/"}
	if err := c.goCmd(ctx, work, append(args, spec.packages...)...); err != nil {
		return err
	}
	if err := c.recordSums(work); err != nil {
		return err
	}
	return install(out, dir, spec)
}

// install records the built binaries' hashes, moves them into dir and marks it
// complete.
func install(out, dir string, spec buildSpec) error {
	for _, p := range spec.packages {
		if _, err := os.Stat(filepath.Join(out, binaryName(p))); err != nil {
			return fmt.Errorf("%w: %s", errIncomplete, binaryName(p))
		}
	}
	for from, to := range spec.rename {
		if err := os.Rename(filepath.Join(out, from), filepath.Join(out, to)); err != nil {
			return fmt.Errorf("naming %s: %w", to, err)
		}
	}
	if err := writeManifest(out, spec.binaries(), ""); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("clearing %s: %w", dir, err)
	}
	if err := os.Rename(out, dir); err != nil {
		return fmt.Errorf("installing binaries: %w", err)
	}
	return os.WriteFile(filepath.Join(dir, ".complete"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o600)
}

// binaryName is what go build names a main package's binary: its last path
// element, skipping a major-version suffix (go.etcd.io/etcd/server/v3 → server).
func binaryName(pkg string) string {
	base := path.Base(pkg)
	if len(base) > 1 && base[0] == 'v' && strings.Trim(base[1:], "0123456789") == "" {
		return path.Base(path.Dir(pkg))
	}
	return base
}

func (c *Cache) writeModule(ctx context.Context, work string, spec buildSpec) error {
	var mod bytes.Buffer
	fmt.Fprintf(&mod, "module cellplane.local/components\n\ngo 1.25.0\n\nrequire (\n")
	for _, r := range spec.requires {
		fmt.Fprintf(&mod, "\t%s\n", r)
	}
	mod.WriteString(")\n")
	if err := os.WriteFile(filepath.Join(work, "go.sum"), componentsSum, 0o600); err != nil {
		return fmt.Errorf("writing go.sum: %w", err)
	}
	if err := os.WriteFile(filepath.Join(work, "go.mod"), mod.Bytes(), 0o600); err != nil {
		return fmt.Errorf("writing go.mod: %w", err)
	}
	if spec.staging == "" {
		return nil
	}
	staged, err := c.stagingModules(ctx, work, spec.staging)
	if err != nil {
		return err
	}
	for _, m := range staged {
		fmt.Fprintf(&mod, "replace %s => %s %s\n", m, m, spec.stagingVersion)
	}
	return os.WriteFile(filepath.Join(work, "go.mod"), mod.Bytes(), 0o600)
}

// stagingModules lists the modules that k8s.io/kubernetes's go.mod replaces with its
// own staging directories. Those replaces do not apply to a module that depends on
// k8s.io/kubernetes, so the build module must pin each to the matching release.
func (c *Cache) stagingModules(ctx context.Context, work, modVersion string) ([]string, error) {
	var out bytes.Buffer
	cmd := c.command(ctx, work, "mod", "download", "-json", modVersion)
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("downloading %s: %w", modVersion, err)
	}
	var info struct{ GoMod, Error string }
	if err := json.Unmarshal(out.Bytes(), &info); err != nil || info.GoMod == "" {
		return nil, fmt.Errorf("reading %s module info: %v %s", modVersion, err, info.Error)
	}
	data, err := os.ReadFile(info.GoMod)
	if err != nil {
		return nil, fmt.Errorf("reading %s go.mod: %w", modVersion, err)
	}
	return parseStaging(data), nil
}

// parseStaging reads replace directives, single-line or in a block, with or
// without a version on the left, ignoring comments.
func parseStaging(gomod []byte) []string {
	var mods []string
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "//")
		left, right, ok := strings.Cut(line, "=>")
		lf, rf := strings.Fields(left), strings.Fields(right)
		if !ok || len(lf) == 0 || len(rf) == 0 || !strings.HasPrefix(rf[0], "./staging/") {
			continue
		}
		if lf[0] == "replace" {
			lf = lf[1:]
		}
		if len(lf) > 0 {
			mods = append(mods, lf[0])
		}
	}
	sort.Strings(mods)
	return mods
}

func (c *Cache) goCmd(ctx context.Context, work string, args ...string) error {
	cmd := c.command(ctx, work, args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	done := make(chan struct{})
	go c.relay(pr, done)
	err := cmd.Run()
	_ = pw.Close() // ends relay's input; closing a PipeWriter always succeeds
	<-done
	if err != nil {
		return fmt.Errorf("go %s: %w", args[0], err)
	}
	return nil
}

// relay passes the go command's output on, with a heartbeat so a long compile
// does not look hung.
func (c *Cache) relay(r io.Reader, done chan<- struct{}) {
	defer close(done)
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	start := time.Now()
	tick := time.NewTicker(20 * time.Second)
	defer tick.Stop()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return
			}
			c.progressf("  %s\n", l)
		case <-tick.C:
			c.progressf("  still compiling (%s)\n", time.Since(start).Round(time.Second))
		}
	}
}

func (c *Cache) command(ctx context.Context, work string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, c.cfg.Go, args...) //nolint:gosec // G204: running the configured go command on the pinned modules is this package's job
	cmd.Dir = work
	env := append(os.Environ(), "GOFLAGS=-mod=mod", "GOTOOLCHAIN=local", "CGO_ENABLED=0", "GOWORK=off")
	if c.cfg.SumFile != "" {
		// The checksum database does not answer for some k8s.io modules here, so
		// recording new sums trusts the module proxy for those; normal builds then
		// verify against what was recorded and committed.
		env = append(env, "GONOSUMDB=k8s.io")
	}
	cmd.Env = env
	return cmd
}

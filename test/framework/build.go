package framework

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/cellplane/cellplane/internal/components"
)

// Binaries are what the tests run.
type Binaries struct {
	Cellplane  string
	Kubernetes components.KubernetesBinaries
	Tools      components.ToolBinaries // kubectl and kubemark of the default release
	Etcd       components.EtcdBinaries
}

var (
	buildOnce sync.Once
	built     Binaries
	buildErr  error
)

// Build compiles cellplane into dir and makes sure the components are cached. It runs
// once per test binary; later calls return the first result.
func Build(dir string) (Binaries, error) {
	buildOnce.Do(func() { built, buildErr = build(dir) })
	return built, buildErr
}

func build(dir string) (Binaries, error) {
	var b Binaries
	b.Cellplane = filepath.Join(dir, "cellplane")
	cmd := exec.Command("go", "build", "-o", b.Cellplane, "./cmd/cellplane")
	cmd.Dir = repoRoot()
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return b, fmt.Errorf("building cellplane: %w", err)
	}
	c := components.New(components.Config{Progress: os.Stderr})
	ctx := context.Background()
	if b.Etcd, buildErr = c.Etcd(ctx); buildErr != nil {
		return b, buildErr
	}
	if b.Kubernetes, buildErr = c.Kubernetes(ctx, components.Default()); buildErr != nil {
		return b, buildErr
	}
	b.Tools, buildErr = c.Tools(ctx, components.Default())
	return b, buildErr
}

// repoRoot is the module root, found from this source file.
func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Main is the TestMain of packages that run real binaries: it builds them into a
// temporary directory, stores them in *bins, runs the tests and removes the
// directory. It returns the exit code for os.Exit.
func Main(m interface{ Run() int }, bins *Binaries) int {
	dir, err := os.MkdirTemp("", "cellplane-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() { _ = os.RemoveAll(dir) }() // a temporary directory; the tests' result is what counts
	if *bins, err = Build(dir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer StopShared()
	return m.Run()
}

package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cellplane/cellplane/internal/runtime/process"
)

const (
	// stopGrace is how long a store process gets between SIGTERM and SIGKILL at
	// teardown: its data is deleted right after, so nothing needs a clean exit,
	// and kube-apiserver's graceful shutdown would cost each binary a second.
	stopGrace = 100 * time.Millisecond
	// stopTimeout bounds a whole teardown.
	stopTimeout = 30 * time.Second
	// tailLines is how much of each log a failed start reports.
	tailLines = 20
)

// recorder is the store's process runner: the real runtime, plus a record of
// every process the store asked it for. Teardown stops exactly those, by the
// PIDs in their pid files, even when the store's start failed half-way and
// there is no store to call Stop on. The record is also kept on disk, for the
// reaper of a binary that died before its teardown.
type recorder struct {
	rt   *process.Runtime
	file string

	mu    sync.Mutex
	specs []process.Spec
}

// Ensure records s before starting it: a process may be running even when
// Ensure then fails (its readiness, its pid file).
func (r *recorder) Ensure(ctx context.Context, s process.Spec) (process.Status, error) {
	if err := r.remember(s); err != nil {
		return process.Status{}, err
	}
	return r.rt.Ensure(ctx, s)
}

// Stop stops one process, as the store asks.
func (r *recorder) Stop(ctx context.Context, s process.Spec) error { return r.rt.Stop(ctx, s) }

func (r *recorder) remember(s process.Spec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.specs = append(r.specs, s)
	return writeSpecs(r.file, r.specs)
}

func (r *recorder) recorded() []process.Spec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.specs)
}

// stopAll stops every recorded process.
func (r *recorder) stopAll(ctx context.Context) error { return stopSpecs(ctx, r.rt, r.recorded()) }

// stopSpecs stops processes newest first, so an API server goes before the
// etcd it writes to.
func stopSpecs(ctx context.Context, rt *process.Runtime, specs []process.Spec) error {
	var errs []error
	for _, s := range slices.Backward(specs) {
		s.StopTimeout = stopGrace
		if err := rt.Stop(ctx, s); err != nil {
			errs = append(errs, fmt.Errorf("stopping %s: %w", s.ID, err))
		}
	}
	return errors.Join(errs...)
}

// logTails returns the end of every recorded process's log, for the error of a
// start that failed: the directory holding the logs is removed right after.
func (r *recorder) logTails() string {
	var b strings.Builder
	for _, s := range r.recorded() {
		// The runtime writes <StateDir>/<Name>.log (process.Spec).
		data, err := os.ReadFile(filepath.Join(s.StateDir, s.Name+".log"))
		if err != nil {
			continue
		}
		fmt.Fprintf(&b, "\n--- last lines of the %s log ---\n%s", s.Name, tail(string(data), tailLines))
	}
	return b.String()
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// writeSpecs replaces path atomically: a reaper must never read half a list.
func writeSpecs(path string, specs []process.Spec) error {
	data, err := json.Marshal(specs)
	if err != nil {
		return fmt.Errorf("encoding the process list: %w", err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing the process list: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing the process list: %w", err)
	}
	return nil
}

func readSpecs(path string) ([]process.Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the process list: %w", err)
	}
	var specs []process.Spec
	if err := json.Unmarshal(data, &specs); err != nil {
		return nil, fmt.Errorf("parsing the process list %s: %w", path, err)
	}
	return specs, nil
}

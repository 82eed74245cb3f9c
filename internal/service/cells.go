package service

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/runtime/process"
	"github.com/cellplane/cellplane/internal/store"
)

// cell is one cell of the embedded default: its addresses and its directory.
type cell struct {
	name  string
	dir   string
	plan  ipam.Cell
	store *store.Store // set inside the cell's own process only
}

func newCell(dataDir string, block ipam.Block, k int) *cell {
	name := CellName(k)
	return &cell{name: name, plan: block.Cell(k), dir: filepath.Join(dataDir, "cells", name)}
}

// CellName is the name of cell k.
func CellName(k int) string { return "cell-" + strconv.Itoa(k) }

func (c *cell) lbDir() string { return filepath.Join(c.dir, "lb", "endpoints") }
func (c *cell) lbStatusAddr() string {
	return ipam.HostPort(c.plan.StoreIP(), ipam.LoadBalancerStatusPort)
}

// processSpec is how cellplane up runs the cell: this executable, "cell run".
func (c *cell) processSpec(exe string, cfg Config, k int) process.Spec {
	return process.Spec{
		ID:   c.name + "/controllers",
		Path: exe,
		Args: append([]string{"cell", "run", "--data-dir", cfg.DataDir, "--cell", strconv.Itoa(k),
			"--cache-dir", cfg.CacheDir, "--create-timeout", cfg.CreateTimeout.String()}, cfg.Backup.args()...),
		Env:         cfg.Backup.withEnv(etcdCareEnv()),
		Dir:         c.dir,
		StateDir:    c.dir,
		Name:        "controllers",
		StopTimeout: cellStopTimeout,
	}
}

// LogFile is where cell k of a data directory logs.
func LogFile(dataDir string, k int) string {
	return filepath.Join(dataDir, "cells", CellName(k), "controllers.log")
}

func newScheme() (*runtime.Scheme, error) {
	sc := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sc); err != nil {
		return nil, err
	}
	return sc, v1alpha1.AddToScheme(sc)
}

// registerCells makes sure the region knows every cell, with the default
// capacity for new ones. An operator's capacity and drain decisions are kept.
func (s *Service) registerCells(ctx context.Context, cl client.Client) error {
	for _, c := range s.cells {
		obj := &v1alpha1.Cell{ObjectMeta: metav1.ObjectMeta{Name: c.name}, Spec: v1alpha1.CellSpec{Capacity: v1alpha1.DefaultCellCapacity}}
		if err := cl.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("registering %s: %w", c.name, err)
		}
	}
	return nil
}

// startCells runs each cell as its own supervised process: started, or adopted
// when it survived an earlier cellplane up.
func (s *Service) startCells(ctx context.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding cellplane executable: %w", err)
	}
	for k, c := range s.cells {
		st, err := s.runtime.Ensure(ctx, c.processSpec(exe, s.cfg, k+1))
		if err != nil {
			return fmt.Errorf("starting %s: %w", c.name, err)
		}
		s.cfg.Logger.Info("cell running", "cell", c.name, "pid", st.PID, "adopted", st.Adopted, "log", LogFile(s.cfg.DataDir, k+1))
	}
	return nil
}

// cellStartTimeout bounds the wait for a cell's first heartbeat: its store must
// start, which takes seconds, or longer on a loaded machine.
const cellStartTimeout = 3 * time.Minute

// waitCells waits until every cell's current process has reported, so that
// clusters created right after up returns can be placed.
func (s *Service) waitCells(ctx context.Context, r client.Reader) error {
	ctx, cancel := context.WithTimeout(ctx, cellStartTimeout)
	defer cancel()
	for k, c := range s.cells {
		for {
			st, _ := s.runtime.Status(c.name + "/controllers")
			var obj v1alpha1.Cell
			err := r.Get(ctx, client.ObjectKey{Name: c.name}, &obj)
			if err == nil && st.Running && obj.Status.PID == st.PID && obj.Status.HeartbeatTime != nil {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("%s did not report within %s (pid %d, running %v); its log is %s",
					c.name, cellStartTimeout, st.PID, st.Running, LogFile(s.cfg.DataDir, k+1))
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// stopCells asks every cell process to stop, side by side.
func (s *Service) stopCells(ctx context.Context) error {
	exe, _ := os.Executable()
	var wg sync.WaitGroup
	errs := make([]error, len(s.cells))
	for k, c := range s.cells {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[k] = s.runtime.Stop(ctx, c.processSpec(exe, s.cfg, k+1))
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// quietLogr hands controller-runtime our logger, keeping only its warnings and
// errors: its info logs describe its own machinery, not the user's clusters.
func quietLogr(l *slog.Logger) logr.Logger {
	return logr.FromSlogHandler(&minLevel{Handler: l.Handler(), min: slog.LevelWarn})
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h *minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

// WithAttrs and WithGroup keep the filter on derived loggers.
func (h *minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return &minLevel{Handler: h.Handler.WithAttrs(as), min: h.min}
}

func (h *minLevel) WithGroup(name string) slog.Handler {
	return &minLevel{Handler: h.Handler.WithGroup(name), min: h.min}
}

// exitEvent maps a tenant process ID ("<namespace>/<name>/<member>") to its cluster.
func exitEvent(id string) (event.GenericEvent, bool) {
	parts := strings.Split(id, "/")
	if len(parts) != 3 {
		return event.GenericEvent{}, false
	}
	obj := &v1alpha1.Cluster{}
	obj.Namespace, obj.Name = parts[0], parts[1]
	return event.GenericEvent{Object: obj}, true
}

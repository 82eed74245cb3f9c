package region

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/cell"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/poll"
	"github.com/cellplane/cellplane/internal/runtime/process"
)

// cellProcs are the cells' own processes, one `cellplane cell run` each,
// which up starts (or adopts), waits for and stops.
type cellProcs struct {
	cfg     Config
	n       int // cells 1 to n
	runtime *process.Runtime
}

// spec is how cellplane up runs cell k: this executable, "cell run".
func (c cellProcs) spec(exe string, k int) process.Spec {
	cfg, dir := c.cfg, datadir.CellDir(c.cfg.DataDir, k)
	args := []string{"cell", "run", "--data-dir", cfg.DataDir, "--cell", strconv.Itoa(k),
		"--cache-dir", cfg.CacheDir, "--create-timeout", cfg.CreateTimeout.String()}
	args = append(append(args, backupArgs(cfg.Backup)...), cfg.Tuning.Args()...)
	return process.Spec{
		ID:          datadir.CellName(k) + "/controllers",
		Path:        exe,
		Args:        args,
		Env:         backupEnv(cfg.Backup),
		Dir:         dir,
		StateDir:    dir,
		Name:        "controllers",
		StopTimeout: cell.StopTimeout,
	}
}

// backupArgs are the non-secret settings as `cell run` flags; the credentials
// go in the environment (backupEnv), so a change of either restarts the cell
// with the new configuration.
func backupArgs(b backup.Config) []string {
	var out []string
	for _, f := range []struct{ flag, v string }{
		{"--backup-s3-endpoint", b.S3Endpoint}, {"--backup-s3-region", b.S3Region}, {"--backup-s3-bucket", b.S3Bucket},
		{"--backup-s3-prefix", b.S3Prefix}, {"--backup-s3-ca-file", b.S3CAFile},
	} {
		if f.v != "" {
			out = append(out, f.flag, f.v)
		}
	}
	if b.FullInterval > 0 {
		out = append(out, "--backup-full-interval", b.FullInterval.String())
	}
	return out
}

// backupEnv is the cell's environment: nil (PATH and HOME only, the runtime's
// default) without S3, which keeps the cell's spec, and so its process, what
// it always was; with S3, those two and the credentials, which never appear
// in a process's arguments.
func backupEnv(b backup.Config) []string {
	if b.S3Bucket == "" {
		return nil
	}
	var env []string
	for _, k := range []string{"PATH", "HOME"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, backup.EnvS3AccessKeyID+"="+b.S3AccessKeyID, backup.EnvS3SecretAccessKey+"="+b.S3SecretAccessKey)
}

// registerCells makes sure the region knows every cell, with the default
// capacity for new ones. An operator's capacity and drain decisions are kept.
func (s *Service) registerCells(ctx context.Context, cl client.Client) error {
	for k := 1; k <= s.cells.n; k++ {
		name := datadir.CellName(k)
		obj := &v1alpha1.Cell{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.CellSpec{Capacity: v1alpha1.DefaultCellCapacity}}
		if err := cl.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("registering %s: %w", name, err)
		}
	}
	return nil
}

// start runs each cell as its own supervised process: started, or adopted
// when it survived an earlier cellplane up.
func (c cellProcs) start(ctx context.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding cellplane executable: %w", err)
	}
	for k := 1; k <= c.n; k++ {
		st, err := c.runtime.Ensure(ctx, c.spec(exe, k))
		if err != nil {
			return fmt.Errorf("starting %s: %w", datadir.CellName(k), err)
		}
		c.cfg.Logger.Info("cell running", "cell", datadir.CellName(k), "pid", st.PID, "adopted", st.Adopted, "log", datadir.CellLogFile(c.cfg.DataDir, k))
	}
	return nil
}

// cellStartTimeout bounds the wait for a cell's first heartbeat: its store must
// start, which takes seconds, or longer on a loaded machine.
const cellStartTimeout = 3 * time.Minute

// wait waits until every cell's current process has reported, so that
// clusters created right after up returns can be placed.
func (c cellProcs) wait(ctx context.Context, r client.Reader) error {
	start := time.Now()
	for k := 1; k <= c.n; k++ {
		name := datadir.CellName(k)
		err := poll.Until(ctx, cellStartTimeout-time.Since(start), 200*time.Millisecond, func() error {
			st, _ := c.runtime.Status(name + "/controllers")
			var obj v1alpha1.Cell
			if err := r.Get(ctx, client.ObjectKey{Name: name}, &obj); err != nil {
				return err
			}
			if !st.Running || obj.Status.PID != st.PID || obj.Status.HeartbeatTime == nil {
				return fmt.Errorf("its process (pid %d, running %v) has not reported yet", st.PID, st.Running)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%s did not report within %s: %w; its log is %s", name, cellStartTimeout, err, datadir.CellLogFile(c.cfg.DataDir, k))
		}
	}
	return nil
}

// stop asks every cell process to stop, side by side.
func (c cellProcs) stop(ctx context.Context) error {
	exe, _ := os.Executable()
	var wg sync.WaitGroup
	errs := make([]error, c.n)
	for k := 1; k <= c.n; k++ {
		wg.Go(func() { errs[k-1] = c.runtime.Stop(ctx, c.spec(exe, k)) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

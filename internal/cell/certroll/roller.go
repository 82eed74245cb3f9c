package certroll

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/pki"
	"github.com/cellplane/cellplane/internal/poll"
)

// startFiles names, per component kind that reads its certificates only at
// start, the files it reads: its client pair and the trust bundle its
// kubeconfig trusts; the controller-manager also signs with the signer CA
// and publishes the bundle as kube-root-ca.crt.
var startFiles = map[string]func(*pki.ClusterFiles) []string{
	controlplane.KindControllerManager: func(f *pki.ClusterFiles) []string {
		return []string{f.ControllerManager.Cert, f.ControllerManager.Key, f.CABundle, f.CA, f.CAKey}
	},
	controlplane.KindScheduler: func(f *pki.ClusterFiles) []string {
		return []string{f.Scheduler.Cert, f.Scheduler.Key, f.CABundle}
	},
}

// rollOrder is the order kinds roll in; one member of one kind at a time.
var rollOrder = []string{controlplane.KindControllerManager, controlplane.KindScheduler}

// DefaultHealthTimeout bounds the wait for a restarted member to be healthy.
const DefaultHealthTimeout = time.Minute

// Checker probes one member; *controlplane.Prober is one.
type Checker interface {
	Check(ctx context.Context, m controlplane.Member) error
	Close()
}

// Roller is the tenant.Concern that restarts members whose certificates
// changed. It runs after the certificates are ensured and before processes
// are started, so what it restarts is never restarted again by that pass.
type Roller struct {
	Runner tenant.Runner
	Logger *slog.Logger
	// HealthTimeout defaults to DefaultHealthTimeout.
	HealthTimeout time.Duration
	// NewChecker returns the health checks of p; nil probes as the cell does.
	NewChecker func(p *controlplane.Plan) (Checker, error)
}

// BeforeStart returns the hook that records, before every start of m, the
// certificates it starts with; nil for a kind that reloads them itself. The
// hook runs for restarts after a crash too, so the record always tells what
// the running process read.
func BeforeStart(p *controlplane.Plan, m controlplane.Member) func() error {
	if _, ok := startFiles[m.Kind]; !ok {
		return nil
	}
	return func() error {
		sum, err := fingerprint(p, m)
		if err != nil {
			return err
		}
		return pki.WriteFileAtomic(recordPath(p, m), []byte(sum+"\n"), 0o600)
	}
}

// Reconcile restarts the members whose certificates changed, one at a time.
// It restarts a member only while every other member of its kind is healthy;
// otherwise it waits for a later pass.
func (r *Roller) Reconcile(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	for _, kind := range rollOrder {
		if err := r.rollKind(ctx, c, p, kind); err != nil {
			return err
		}
	}
	return nil
}

// Health reports nothing: a member being restarted is judged by its probe.
func (r *Roller) Health(context.Context, *v1alpha1.Cluster, *controlplane.Plan, bool) string {
	return ""
}

func (r *Roller) rollKind(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan, kind string) error {
	members := p.Members(kind)
	var chk Checker
	defer func() {
		if chk != nil {
			chk.Close()
		}
	}()
	for _, m := range members {
		stale, err := r.stale(p, m)
		if err != nil {
			return err
		}
		if !stale {
			continue
		}
		if chk == nil {
			if chk, err = r.checker(p); err != nil {
				return err
			}
		}
		if err := othersHealthy(ctx, chk, members, m); err != nil {
			r.Logger.Info("certificate renewed; waiting for peers before restarting", "cluster", c.Spec.Name, "member", m.Name(), "reason", err)
			return nil
		}
		if err := r.restart(ctx, c, p, m, chk); err != nil {
			return err
		}
	}
	return nil
}

// stale says whether m runs with certificates other than those on disk. A
// member that does not run is not stale: it reads the disk when it starts. A
// member with no record started before records were kept, so it restarts once.
func (r *Roller) stale(p *controlplane.Plan, m controlplane.Member) (bool, error) {
	if st, ok := r.Runner.Status(p.Spec(m).ID); !ok || !st.Running {
		return false, nil
	}
	rec, err := os.ReadFile(recordPath(p, m))
	if errors.Is(err, fs.ErrNotExist) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading certificate record of %s: %w", m.Name(), err)
	}
	sum, err := fingerprint(p, m)
	if err != nil {
		return false, err
	}
	return string(rec) != sum+"\n", nil
}

// Pending names the running members that still run with other certificates
// than those on disk: a CA rotation is distributed to them only once none is.
func Pending(r tenant.Runner, p *controlplane.Plan) ([]string, error) {
	rl := &Roller{Runner: r}
	var out []string
	for _, kind := range rollOrder {
		for _, m := range p.Members(kind) {
			stale, err := rl.stale(p, m)
			if err != nil {
				return nil, err
			}
			if stale {
				out = append(out, m.Name())
			}
		}
	}
	return out, nil
}

func othersHealthy(ctx context.Context, chk Checker, members []controlplane.Member, m controlplane.Member) error {
	for _, o := range members {
		if o.Name() == m.Name() {
			continue
		}
		if err := chk.Check(ctx, o); err != nil {
			return fmt.Errorf("%s: %w", o.Name(), err)
		}
	}
	return nil
}

// restart stops m, starts it again with the record hook and waits until its
// probe passes.
func (r *Roller) restart(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan, m controlplane.Member, chk Checker) error {
	log := r.Logger.With("cluster", c.Spec.Name, "member", m.Name())
	log.Info("restarting to load renewed certificates")
	spec := p.Spec(m)
	spec.BeforeStart = BeforeStart(p, m)
	if err := r.Runner.Stop(ctx, spec); err != nil {
		return fmt.Errorf("stopping %s to load renewed certificates: %w", m.Name(), err)
	}
	if _, err := r.Runner.Ensure(ctx, spec); err != nil {
		return fmt.Errorf("starting %s with renewed certificates: %w", m.Name(), err)
	}
	start := time.Now()
	err := poll.Until(ctx, r.healthTimeout(), 250*time.Millisecond, func() error { return chk.Check(ctx, m) })
	if err != nil {
		return fmt.Errorf("waiting for %s after loading renewed certificates: %w", m.Name(), err)
	}
	log.Info("restarted with renewed certificates", "healthyAfter", time.Since(start).Round(time.Millisecond))
	return nil
}

func (r *Roller) checker(p *controlplane.Plan) (Checker, error) {
	if r.NewChecker != nil {
		return r.NewChecker(p)
	}
	pr, err := controlplane.NewProber(p)
	if err != nil {
		return nil, fmt.Errorf("preparing health checks: %w", err)
	}
	return pr, nil
}

func (r *Roller) healthTimeout() time.Duration {
	if r.HealthTimeout > 0 {
		return r.HealthTimeout
	}
	return DefaultHealthTimeout
}

// recordPath is next to the member's pid file.
func recordPath(p *controlplane.Plan, m controlplane.Member) string {
	return filepath.Join(p.LogDir(), m.Name()+".certs")
}

// fingerprint digests the files m reads at start.
func fingerprint(p *controlplane.Plan, m controlplane.Member) (string, error) {
	h := sha256.New()
	for _, path := range startFiles[m.Kind](p.Files()) {
		data, err := os.ReadFile(path) //nolint:gosec // G304: the cluster's own PKI files
		if err != nil {
			return "", fmt.Errorf("reading certificates of %s: %w", m.Name(), err)
		}
		sum := sha256.Sum256(data)
		h.Write(sum[:])
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

package lifecycle

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/certroll"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/pki"
)

// phase is one step of a pass. The order is fixed: certificates and configs,
// the isolation they and the processes need, then the concerns (restores,
// member replacement), then the endpoint and the processes. Each is
// idempotent: a pass cut short anywhere is finished by the next.
type phase func(context.Context, *v1alpha1.Cluster, *controlplane.Plan) error

func (r *Reconciler) reconcileNormal(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster) (ctrl.Result, error) {
	if c.Status.Status == v1alpha1.StatusFailed {
		return ctrl.Result{}, nil // FAILED is final: the tenant deletes the cluster
	}
	if err := r.ensureSlot(ctx, c); err != nil {
		return ctrl.Result{}, err
	}
	// After ensureSlot: its patch returns the stored status, which would undo an
	// in-memory change made before it.
	if c.Status.Status == "" {
		c.Status.Status = v1alpha1.StatusCreating
	}
	plan, err := r.plan(ctx, c)
	if errors.Is(err, tenant.ErrTerminal) {
		r.fail(log, c, err.Error())
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	phases := []phase{r.phasePKI, r.phaseConfigs, r.phaseIsolation}
	for _, cn := range r.Concerns {
		phases = append(phases, cn.Reconcile)
	}
	for _, ph := range append(phases, r.phaseEndpoint, r.phaseProcesses) {
		err := ph(ctx, c, plan)
		if errors.Is(err, tenant.ErrReplan) {
			return ctrl.Result{RequeueAfter: pollCreating}, nil
		}
		if errors.Is(err, tenant.ErrTerminal) {
			r.fail(log, c, err.Error())
			return ctrl.Result{}, nil
		}
		if err != nil {
			return ctrl.Result{}, err
		}
	}
	res, err := r.phaseHealth(ctx, log, c, plan)
	return r.beforeRenewal(c, res), err
}

// beforeRenewal brings the next pass forward to when the first leaf
// certificate enters its renewal window, so a long poll never lets one lapse.
func (r *Reconciler) beforeRenewal(c *v1alpha1.Cluster, res ctrl.Result) ctrl.Result {
	next, ok := r.renewals.Load(c.UID)
	if !ok || res.RequeueAfter == 0 {
		return res
	}
	if until := max(time.Until(next.(time.Time)), pollCreating); until < res.RequeueAfter {
		res.RequeueAfter = until
	}
	return res
}

// plan derives the control plane's description, building components on first use.
func (r *Reconciler) plan(ctx context.Context, c *v1alpha1.Cluster) (*controlplane.Plan, error) {
	rel, err := components.Lookup(c.Spec.Version)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", tenant.ErrTerminal, err)
	}
	rel = r.Zones.PauseUpgrade(c, rel)
	kube, err := r.Binaries.Kubernetes(ctx, rel)
	if err != nil {
		return nil, fmt.Errorf("getting Kubernetes %s binaries: %w", rel.Version, err)
	}
	etcd, err := r.Binaries.Etcd(ctx)
	if err != nil {
		return nil, fmt.Errorf("getting etcd binaries: %w", err)
	}
	pv, err := r.Layout.Platforms.Resolve(ctx, rel.Minor, c.Spec.PlatformVersion)
	if err != nil {
		// The members keep running what they run until the version is known
		// here (an agent copies registered ones into the cell's store).
		return nil, fmt.Errorf("resolving platform version: %w", err)
	}
	c.Status.KubernetesVersion = rel.Version
	return r.Layout.PlanFor(c, kube, etcd, pv), nil
}

// phasePKI issues what is missing and renews what is due. A renewal drops the
// cluster's prober, whose connections hold the old admin certificate, and
// the pass comes back before the next leaf is due.
func (r *Reconciler) phasePKI(_ context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	_, renewed, err := pki.EnsureClusterWith(p.PKIDir(), p.PKISpec(), r.Certs)
	if err != nil {
		tenant.SetCondition(c, v1alpha1.ConditionPKIReady, false, "IssueFailed", err.Error())
		return fmt.Errorf("issuing certificates: %w", err)
	}
	tenant.SetCondition(c, v1alpha1.ConditionPKIReady, true, "Issued", "")
	r.renewals.Store(c.UID, renewed.Next)
	if len(renewed.Issued) > 0 {
		r.probers.close(c.UID)
		if c.Status.Status == v1alpha1.StatusActive {
			tenant.Logger(r.Logger, c).Info("renewed certificates", "leaves", renewed.Issued, "nextRenewal", renewed.Next.Format(time.RFC3339))
		}
	}
	ca, err := os.ReadFile(p.Files().CABundle)
	if err != nil {
		return fmt.Errorf("reading cluster trust bundle: %w", err)
	}
	c.Status.CertificateAuthorityData = base64.StdEncoding.EncodeToString(ca)
	return nil
}

func (r *Reconciler) phaseConfigs(_ context.Context, _ *v1alpha1.Cluster, p *controlplane.Plan) error {
	return p.WriteConfigs()
}

func (r *Reconciler) phaseEndpoint(_ context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	if err := r.Endpoint.Write(p); err != nil {
		return err
	}
	c.Status.Endpoint = p.Endpoint()
	return nil
}

// phaseProcesses starts every member that is not running. The runtime adopts members
// that survived a restart of cellplane, so this never restarts a healthy process.
// It leaves alone what an in-place restore holds stopped, and an etcd member
// whose data is lost: member replacement replaces it.
func (r *Reconciler) phaseProcesses(ctx context.Context, _ *v1alpha1.Cluster, p *controlplane.Plan) error {
	if err := r.Zones.StopShifted(ctx, r.Runner, p); err != nil {
		return err
	}
	for _, m := range p.AllMembers() {
		if etcdstate.Held(p, m) || r.Zones.StoppedByShift(m) {
			continue
		}
		spec := p.Spec(m)
		spec.BeforeStart = certroll.BeforeStart(p, m)
		if m.Kind == controlplane.KindEtcd {
			if err := os.MkdirAll(p.EtcdDataDir(m), 0o700); err != nil {
				return fmt.Errorf("creating %s data directory: %w", m.Name(), err)
			}
			spec.BeforeStart = ownDataDir(p, m, etcdstate.StartGuard(p, m))
		}
		_, err := r.Runner.Ensure(ctx, spec)
		if errors.Is(err, etcdstate.ErrDataLost) {
			continue
		}
		if err != nil {
			return fmt.Errorf("starting %s: %w", m.Name(), err)
		}
	}
	return nil
}

func (r *Reconciler) fail(log *slog.Logger, c *v1alpha1.Cluster, reason string) {
	log.Warn("cluster creation failed", "reason", reason)
	c.Status.Status = v1alpha1.StatusFailed
	c.Status.Reason = reason
	tenant.SetCondition(c, v1alpha1.ConditionReady, false, "CreateFailed", reason)
}

// createDeadline is when a cluster still not ACTIVE is declared FAILED. Time while
// cellplane was down does not count, so a restart mid-create resumes rather than fails.
func (r *Reconciler) createDeadline(c *v1alpha1.Cluster) time.Time {
	from := c.CreationTimestamp.Time
	if r.started.After(from) {
		from = r.started
	}
	return from.Add(r.CreateTimeout)
}

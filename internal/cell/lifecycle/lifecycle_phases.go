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
	"github.com/cellplane/cellplane/internal/cell/rollout"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/pki"
)

// phase is one step of a pass. The order is fixed: certificates and configs,
// the isolation they and the processes need, then the concerns (restores,
// member replacement), then the endpoint and the processes. Each is
// idempotent: a pass cut short anywhere is finished by the next.
type phase func(context.Context, *v1alpha1.Cluster, *controlplane.Plan) error

func (r *Reconciler) reconcileNormal(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, persist func(context.Context) error) (ctrl.Result, error) {
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
	if c.Status.ActiveAt == nil {
		// Admitted or queued, on record before any process starts, so a
		// restarted cell counts this bring-up before admitting another.
		admitted, err := r.BringUps.Admit(ctx, c)
		if err != nil {
			return ctrl.Result{}, err
		}
		if !admitted {
			return ctrl.Result{RequeueAfter: pollQueued}, nil
		}
		if err := persist(ctx); err != nil {
			return ctrl.Result{}, err
		}
	}
	plans, err := plannerOf(r).plans(ctx, c)
	if errors.Is(err, tenant.ErrTerminal) {
		r.fail(log, c, err.Error())
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	plan := plans.To
	phases := []phase{r.phasePKI, r.phaseConfigs, r.phaseIsolation}
	for _, cn := range r.Concerns {
		phases = append(phases, cn.Reconcile)
	}
	var rolling time.Duration
	roll := func(ctx context.Context, c *v1alpha1.Cluster, _ *controlplane.Plan) (err error) {
		rolling, err = r.phaseRollout(ctx, log, c, plans, persist)
		return err
	}
	procs := func(ctx context.Context, c *v1alpha1.Cluster, _ *controlplane.Plan) error {
		return r.phaseProcesses(ctx, c, plans)
	}
	for _, ph := range append(phases, r.phaseEndpoint, roll, procs) {
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
	if c.Status.ActiveAt != nil {
		r.BringUps.Done(c.UID)
	}
	if rolling > 0 && (res.RequeueAfter == 0 || rolling < res.RequeueAfter) && err == nil && c.Status.Status != v1alpha1.StatusFailed {
		res.RequeueAfter = rolling
	}
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
// During a rollout each member runs the release the rollout has it on.
func (r *Reconciler) phaseProcesses(ctx context.Context, c *v1alpha1.Cluster, plans rollout.Plans) error {
	if err := r.Zones.StopShifted(ctx, r.Runner, plans.To); err != nil {
		return err
	}
	for _, m := range plans.To.AllMembers() {
		p := plans.For(c.Status.Rollout, m)
		if etcdstate.Held(p, m) || r.Zones.StoppedByShift(m) {
			continue
		}
		err := r.ensureMember(ctx, p, m)
		if errors.Is(err, etcdstate.ErrDataLost) {
			continue
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ensureMember starts m as p describes it, or restarts it if it runs
// otherwise.
func (r *Reconciler) ensureMember(ctx context.Context, p *controlplane.Plan, m controlplane.Member) error {
	spec := p.Spec(m)
	spec.BeforeStart = certroll.BeforeStart(p, m)
	if m.Kind == controlplane.KindEtcd {
		if err := os.MkdirAll(p.EtcdDataDir(m), 0o700); err != nil {
			return fmt.Errorf("creating %s data directory: %w", m.Name(), err)
		}
		spec.BeforeStart = ownDataDir(p, m, etcdstate.StartGuard(p, m))
	}
	if _, err := r.Runner.Ensure(ctx, spec); err != nil {
		return fmt.Errorf("starting %s: %w", m.Name(), err)
	}
	return nil
}

func (r *Reconciler) fail(log *slog.Logger, c *v1alpha1.Cluster, reason string) {
	log.Warn("cluster creation failed", "reason", reason)
	c.Status.Status = v1alpha1.StatusFailed
	c.Status.Reason = reason
	r.BringUps.Done(c.UID)
	tenant.SetCondition(c, v1alpha1.ConditionReady, false, "CreateFailed", reason)
}

// createDeadline is when a cluster still not ACTIVE is declared FAILED. Time while
// cellplane was down, or the cluster queued to start, does not count, so a
// restart mid-create resumes rather than fails.
func (r *Reconciler) createDeadline(c *v1alpha1.Cluster) time.Time {
	from := c.CreationTimestamp.Time
	if r.started.After(from) {
		from = r.started
	}
	if bu := c.Status.BringUp; bu != nil && bu.AdmittedAt != nil && bu.AdmittedAt.After(from) {
		from = bu.AdmittedAt.Time
	}
	return from.Add(r.CreateTimeout)
}

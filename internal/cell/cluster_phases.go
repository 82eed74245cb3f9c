package cell

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/lb"
	"github.com/cellplane/cellplane/internal/pki"
)

// errTerminal marks failures that retrying cannot fix; the cluster goes FAILED.
var errTerminal = errors.New("cannot be created")

// shiftDrainSeconds is how long the endpoint takes to close the connections of
// API servers in a shifted zone, each at a random moment of it: within the 10 s
// an evacuation may take, and spread so that clients do not all reconnect at
// once.
const shiftDrainSeconds = 5

// impairedDrainSeconds replaces shiftDrainSeconds for a zone the cell's probes
// found impaired: its connections are slow or dead already, and every second
// they stay is a second of stalled requests and watches.
const impairedDrainSeconds = 1

// shiftStopTimeout is how long a controller leaving a shifted zone gets to
// hand its lease back before it is killed. In an impaired zone it cannot reach
// its API server anyway; the lease mover releases what it leaves behind.
const shiftStopTimeout = 2 * time.Second

// errReplan ends a pass after a phase changed what the plan is derived from
// (an etcd member's replacement record): the next pass starts from a fresh plan.
var errReplan = errors.New("plan changed")

func (r *ClusterReconciler) reconcileNormal(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster) (ctrl.Result, error) {
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
	if errors.Is(err, errTerminal) {
		r.fail(log, c, err.Error())
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	for _, phase := range []func(context.Context, *v1alpha1.Cluster, *controlplane.Plan) error{
		r.phasePKI, r.phaseConfigs, r.phaseRestore, r.phaseInPlaceRestore, r.phaseEtcdMembers, r.phaseEndpoint, r.phaseProcesses,
	} {
		err := phase(ctx, c, plan)
		if errors.Is(err, errReplan) {
			return ctrl.Result{RequeueAfter: pollCreating}, nil
		}
		if errors.Is(err, errTerminal) {
			r.fail(log, c, err.Error())
			return ctrl.Result{}, nil
		}
		if err != nil {
			return ctrl.Result{}, err
		}
	}
	return r.phaseHealth(ctx, log, c, plan)
}

// plan derives the control plane's description, building components on first use.
func (r *ClusterReconciler) plan(ctx context.Context, c *v1alpha1.Cluster) (*controlplane.Plan, error) {
	rel, err := components.Lookup(c.Spec.Version)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errTerminal, err)
	}
	rel = r.pauseUpgrade(c, rel)
	kube, err := r.Binaries.Kubernetes(ctx, rel)
	if err != nil {
		return nil, fmt.Errorf("getting Kubernetes %s binaries: %w", rel.Version, err)
	}
	etcd, err := r.Binaries.Etcd(ctx)
	if err != nil {
		return nil, fmt.Errorf("getting etcd binaries: %w", err)
	}
	c.Status.KubernetesVersion = rel.Version
	return r.newPlan(c, kube, etcd), nil
}

// newPlan is the plan processes are started from: it knows which etcd members
// rejoined an existing cluster.
func (r *ClusterReconciler) newPlan(c *v1alpha1.Cluster, kube components.KubernetesBinaries, etcd components.EtcdBinaries) *controlplane.Plan {
	in := planInput(r.Dir, r.Cell, c, kube, etcd)
	in.EtcdJoined = joinedMembers(in.Dir)
	in.GoawayChance = r.GoawayChance
	in.ZoneNetNS = r.ZoneNetNS
	return controlplane.New(in)
}

// newPlan derives the plan of cluster c in the cell directory dir; c must have a slot.
func newPlan(dir string, cell ipam.Cell, c *v1alpha1.Cluster, kube components.KubernetesBinaries, etcd components.EtcdBinaries) *controlplane.Plan {
	return controlplane.New(planInput(dir, cell, c, kube, etcd))
}

func planInput(dir string, cell ipam.Cell, c *v1alpha1.Cluster, kube components.KubernetesBinaries, etcd components.EtcdBinaries) controlplane.Input {
	return controlplane.Input{
		Namespace: c.Namespace, Name: c.Name, UID: string(c.UID), ClusterName: c.Spec.Name,
		Dir: clusterDir(dir, c), Cell: cell, Slot: int(*c.Status.Slot),
		Kubernetes: kube, Etcd: etcd, EtcdQuotaBytes: c.Spec.EtcdQuotaBytes,
	}
}

func (r *ClusterReconciler) phasePKI(_ context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	if _, err := pki.EnsureCluster(p.PKIDir(), p.PKISpec()); err != nil {
		setCondition(c, v1alpha1.ConditionPKIReady, false, "IssueFailed", err.Error())
		return fmt.Errorf("issuing certificates: %w", err)
	}
	setCondition(c, v1alpha1.ConditionPKIReady, true, "Issued", "")
	ca, err := os.ReadFile(p.Files().CA)
	if err != nil {
		return fmt.Errorf("reading cluster CA: %w", err)
	}
	c.Status.CertificateAuthorityData = encodeBase64(ca)
	return nil
}

func (r *ClusterReconciler) phaseConfigs(_ context.Context, _ *v1alpha1.Cluster, p *controlplane.Plan) error {
	return p.WriteConfigs()
}

// phaseProcesses starts every member that is not running. The runtime adopts members
// that survived a restart of cellplane, so this never restarts a healthy process.
// It leaves alone what an in-place restore holds stopped, and an etcd member
// whose data is lost: phaseEtcdMembers replaces it.
func (r *ClusterReconciler) phaseProcesses(ctx context.Context, _ *v1alpha1.Cluster, p *controlplane.Plan) error {
	if err := r.stopShifted(ctx, p); err != nil {
		return err
	}
	for _, m := range p.AllMembers() {
		if heldByRestore(p, m) || r.Zones.stoppedByShift(m) {
			continue
		}
		spec := p.Spec(m)
		if m.Kind == controlplane.KindEtcd {
			if err := os.MkdirAll(p.EtcdDataDir(m), 0o700); err != nil {
				return fmt.Errorf("creating %s data directory: %w", m.Name(), err)
			}
			spec.BeforeStart = etcdStartGuard(p, m)
		}
		_, err := r.Runner.Ensure(ctx, spec)
		if errors.Is(err, errEtcdDataLost) {
			continue
		}
		if err != nil {
			return fmt.Errorf("starting %s: %w", m.Name(), err)
		}
	}
	return nil
}

// stopShifted stops the members a zone shift keeps stopped, side by side:
// each gets shiftStopTimeout, and an evacuation waits for the slowest only.
func (r *ClusterReconciler) stopShifted(ctx context.Context, p *controlplane.Plan) error {
	var g errgroup.Group
	for _, m := range p.AllMembers() {
		if heldByRestore(p, m) || !r.Zones.stoppedByShift(m) {
			continue
		}
		spec := p.Spec(m)
		spec.StopTimeout = shiftStopTimeout
		g.Go(func() error {
			if err := r.Runner.Stop(ctx, spec); err != nil {
				return fmt.Errorf("stopping %s, its zone is out of rotation: %w", m.Name(), err)
			}
			return nil
		})
	}
	return g.Wait()
}

func (r *ClusterReconciler) phaseEndpoint(_ context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	if err := r.writeEndpoint(c, p); err != nil {
		return err
	}
	c.Status.Endpoint = p.Endpoint()
	return nil
}

// writeEndpoint writes the cluster's endpoint file with the zones out of
// rotation drained. The zone shifts are read under the cluster's endpoint
// lock, so a pass that began before a shift cannot overwrite the drain the
// evacuation wrote meanwhile.
func (r *ClusterReconciler) writeEndpoint(c *v1alpha1.Cluster, p *controlplane.Plan) error {
	mu, _ := r.endpointLocks.LoadOrStore(c.UID, &sync.Mutex{})
	mu.(*sync.Mutex).Lock()
	defer mu.(*sync.Mutex).Unlock()
	cfg := p.EndpointConfig()
	for i, m := range p.Members(controlplane.KindAPIServer) {
		cfg.Backends[i].Draining = r.Zones.Shifted(m.Zone)
	}
	cfg.DrainSeconds = shiftDrainSeconds
	if len(r.Zones.Impaired()) > 0 {
		cfg.DrainSeconds = impairedDrainSeconds
	}
	if err := lb.WriteEndpointFile(r.LBDir, cfg); err != nil {
		return fmt.Errorf("configuring endpoint: %w", err)
	}
	return nil
}

func (r *ClusterReconciler) fail(log *slog.Logger, c *v1alpha1.Cluster, reason string) {
	log.Warn("cluster creation failed", "reason", reason)
	c.Status.Status = v1alpha1.StatusFailed
	c.Status.Reason = reason
	setCondition(c, v1alpha1.ConditionReady, false, "CreateFailed", reason)
}

// createDeadline is when a cluster still not ACTIVE is declared FAILED. Time while
// cellplane was down does not count, so a restart mid-create resumes rather than fails.
func (r *ClusterReconciler) createDeadline(c *v1alpha1.Cluster) time.Time {
	from := c.CreationTimestamp.Time
	if r.started.After(from) {
		from = r.started
	}
	return from.Add(r.CreateTimeout)
}

func (r *ClusterReconciler) reconcileDelete(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster) (ctrl.Result, error) {
	c.Status.Status = v1alpha1.StatusDeleting
	if c.Status.Slot != nil {
		p := r.newPlan(c, components.KubernetesBinaries{}, components.EtcdBinaries{})
		if err := r.teardown(ctx, c, p); err != nil {
			return ctrl.Result{}, err
		}
	}
	if err := os.RemoveAll(r.clusterDir(c)); err != nil {
		return ctrl.Result{}, fmt.Errorf("removing cluster files: %w", err)
	}
	r.slots.release(c)
	if controllerutil.RemoveFinalizer(c, v1alpha1.CellFinalizer) {
		if err := r.Client.Update(ctx, c); err != nil {
			return ctrl.Result{}, fmt.Errorf("removing finalizer: %w", err)
		}
	}
	log.Info("cluster deleted")
	return ctrl.Result{}, nil
}

// teardown removes the endpoint first, so tenants see the cluster go away cleanly,
// then stops controllers, API servers and etcd, in the reverse of start order. The
// members of one tier stop together: they do not depend on each other.
func (r *ClusterReconciler) teardown(ctx context.Context, c *v1alpha1.Cluster, p *controlplane.Plan) error {
	if err := lb.RemoveEndpointFile(r.LBDir, p.EndpointID()); err != nil {
		return err
	}
	tiers := [][]string{
		{controlplane.KindControllerManager, controlplane.KindScheduler},
		{controlplane.KindAPIServer},
		{controlplane.KindEtcd},
	}
	for _, kinds := range tiers {
		if err := r.stopTier(ctx, p, kinds); err != nil {
			return err
		}
	}
	if pr, ok := r.probers.LoadAndDelete(c.UID); ok {
		pr.(*controlplane.Prober).Close()
	}
	return r.deleteKubeconfig(ctx, c)
}

// deleteStopTimeout is the grace a member gets when its cluster is deleted: the
// endpoint is already gone and its data is about to be, so there is nothing to
// drain and nothing to flush.
const deleteStopTimeout = 2 * time.Second

func (r *ClusterReconciler) stopTier(ctx context.Context, p *controlplane.Plan, kinds []string) error {
	g, ctx := errgroup.WithContext(ctx)
	for _, kind := range kinds {
		for _, m := range p.Members(kind) {
			spec := p.Spec(m)
			spec.StopTimeout = deleteStopTimeout
			g.Go(func() error {
				if err := r.Runner.Stop(ctx, spec); err != nil {
					return fmt.Errorf("stopping %s: %w", m.Name(), err)
				}
				return nil
			})
		}
	}
	return g.Wait()
}

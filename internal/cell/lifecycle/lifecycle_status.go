package lifecycle

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// phaseHealth probes every member and the endpoint and turns the result into
// conditions, component statuses and the cluster's status.
func (r *Reconciler) phaseHealth(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, p *controlplane.Plan) (ctrl.Result, error) {
	pr, err := r.probers.get(c.UID, p)
	if err != nil {
		return ctrl.Result{}, err
	}
	// Members stopped by a zone shift are expected down.
	members := slices.DeleteFunc(p.AllMembers(), r.Zones.StoppedByShift)
	r.Zones.ShowShift(c)
	results := probeAll(ctx, pr, members)
	c.Status.Components = r.componentStatuses(p, members, results)
	unhealthy := setKindConditions(c, members, results)
	setEtcdConditions(c)
	endpointErr := pr.CheckEndpoint(ctx)
	tenant.SetCondition(c, v1alpha1.ConditionEndpointReady, endpointErr == nil, tenant.Pick(endpointErr == nil, "Serving", "NotServing"), tenant.ErrText(endpointErr))
	if endpointErr != nil {
		unhealthy = append(unhealthy, "endpoint: "+endpointErr.Error())
	}
	etcdHealthy := kindHealthy(members, results, controlplane.KindEtcd)
	rec := etcdstate.For(p)
	if etcdHealthy && !rec.InPlaceRunning() {
		if err := rec.MarkBootstrapped(); err != nil {
			return ctrl.Result{}, err
		}
	}
	for _, cn := range r.Concerns {
		if msg := cn.Health(ctx, c, p, etcdHealthy); msg != "" {
			unhealthy = append(unhealthy, msg)
		}
	}
	if err := etcdstate.Show(c, p); err != nil {
		return ctrl.Result{}, err
	}
	if len(unhealthy) == 0 {
		if err := r.secrets.publish(ctx, c, p); err != nil {
			return ctrl.Result{}, err
		}
		// Every member of the plan answered its probe: they run its
		// platform version.
		c.Status.PlatformVersion = p.PlatformVersion()
	}
	return r.summarize(log, c, unhealthy), nil
}

func probeAll(ctx context.Context, pr *controlplane.Prober, members []controlplane.Member) []error {
	results := make([]error, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Go(func() { results[i] = pr.Check(ctx, m) })
	}
	wg.Wait()
	return results
}

// kindHealthy reports whether every member of kind passed its probe.
func kindHealthy(members []controlplane.Member, results []error, kind string) bool {
	for i, m := range members {
		if m.Kind == kind && results[i] != nil {
			return false
		}
	}
	return true
}

func (r *Reconciler) componentStatuses(p *controlplane.Plan, members []controlplane.Member, results []error) []v1alpha1.ComponentStatus {
	out := make([]v1alpha1.ComponentStatus, len(members))
	for i, m := range members {
		st, _ := r.Runner.Status(p.Spec(m).ID)
		out[i] = v1alpha1.ComponentStatus{
			Name: m.Name(), Zone: m.Zone, Address: m.Address(),
			Ready: results[i] == nil, Message: tenant.ErrText(results[i]), Restarts: st.Restarts,
		}
		if m.Port == 0 { // no network address: a KMS plugin's unix socket
			out[i].Address = ""
		}
		if st.Running {
			out[i].PID = st.PID
		}
	}
	return out
}

// setKindConditions sets the condition each member's component reports
// through and returns what is unhealthy.
func setKindConditions(c *v1alpha1.Cluster, members []controlplane.Member, results []error) []string {
	bad := map[string][]string{}
	var unhealthy []string
	for i, m := range members {
		cond := m.Component.Condition()
		if _, ok := bad[cond]; !ok {
			bad[cond] = nil
		}
		if results[i] != nil {
			bad[cond] = append(bad[cond], m.Name())
			unhealthy = append(unhealthy, m.Name()+": "+results[i].Error())
		}
	}
	for cond, names := range bad {
		msg := ""
		if len(names) > 0 {
			msg = "not healthy: " + strings.Join(names, ", ")
		}
		tenant.SetCondition(c, cond, len(names) == 0, tenant.Pick(len(names) == 0, "Healthy", "Unhealthy"), msg)
	}
	return unhealthy
}

// setEtcdConditions reports quorum and leadership as etcd care last measured
// them in status.etcd. They inform; Ready stays with the direct probes, which
// see a dead member within one poll.
func setEtcdConditions(c *v1alpha1.Cluster) {
	e := c.Status.Etcd
	if e == nil || e.ObservedAt == nil {
		return
	}
	var bad []string
	for _, m := range e.Members {
		if !m.Healthy {
			bad = append(bad, m.Name+": "+m.Error)
		}
	}
	tenant.SetCondition(c, v1alpha1.ConditionEtcdQuorum, e.Quorum, tenant.Pick(e.Quorum, "Quorum", "NoQuorum"), strings.Join(bad, "; "))
	leaderMsg := "no member leads"
	if e.Leader != "" {
		leaderMsg = e.Leader + " leads"
	}
	tenant.SetCondition(c, v1alpha1.ConditionEtcdLeader, e.Leader != "", tenant.Pick(e.Leader != "", "Elected", "NoLeader"), leaderMsg)
}

// summarize decides the cluster's status. Once ACTIVE a cluster stays ACTIVE and
// reports degradation through its conditions, as EKS reports health issues.
func (r *Reconciler) summarize(log *slog.Logger, c *v1alpha1.Cluster, unhealthy []string) ctrl.Result {
	ready := len(unhealthy) == 0
	tenant.SetCondition(c, v1alpha1.ConditionReady, ready, tenant.Pick(ready, "Ready", "NotReady"), strings.Join(unhealthy, "; "))
	if ready {
		c.Status.Reason = ""
		if c.Status.Status != v1alpha1.StatusActive {
			now := metav1.Now()
			c.Status.ActiveAt = &now
			log.Info("cluster is ACTIVE", "endpoint", c.Status.Endpoint, "took", now.Sub(c.CreationTimestamp.Time).Round(time.Millisecond))
		}
		c.Status.Status = v1alpha1.StatusActive
		return ctrl.Result{RequeueAfter: pollActive}
	}
	if c.Status.Status == v1alpha1.StatusActive {
		c.Status.Reason = "degraded: " + strings.Join(unhealthy, "; ")
		return ctrl.Result{RequeueAfter: pollCreating * 5}
	}
	c.Status.Reason = "waiting for " + strings.Join(unhealthy, "; ")
	if time.Now().After(r.createDeadline(c)) {
		r.fail(log, c, fmt.Sprintf("the control plane did not become healthy within %s: %s (component logs are in %s)",
			r.CreateTimeout, strings.Join(unhealthy, "; "), r.Layout.ClusterDir(c)+"/logs"))
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: pollCreating}
}

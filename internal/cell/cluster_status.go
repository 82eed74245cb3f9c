package cell

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// kindCondition says which condition reports each component kind.
var kindCondition = map[string]string{
	controlplane.KindEtcd:              v1alpha1.ConditionEtcdReady,
	controlplane.KindAPIServer:         v1alpha1.ConditionAPIServersReady,
	controlplane.KindControllerManager: v1alpha1.ConditionControllersReady,
	controlplane.KindScheduler:         v1alpha1.ConditionControllersReady,
}

// phaseHealth probes every member and the endpoint and turns the result into
// conditions, component statuses and the cluster's status.
func (r *ClusterReconciler) phaseHealth(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, p *controlplane.Plan) (ctrl.Result, error) {
	pr, err := r.prober(c, p)
	if err != nil {
		return ctrl.Result{}, err
	}
	// Controllers stopped by a zone shift are expected down.
	members := slices.DeleteFunc(p.AllMembers(), r.Zones.stoppedByShift)
	setZoneShiftCondition(c, r.Zones)
	results := probeAll(ctx, pr, members)
	c.Status.Components = r.componentStatuses(p, members, results)
	unhealthy := setKindConditions(c, members, results)
	setEtcdConditions(c)
	endpointErr := pr.CheckEndpoint(ctx)
	setCondition(c, v1alpha1.ConditionEndpointReady, endpointErr == nil, pick(endpointErr == nil, "Serving", "NotServing"), errText(endpointErr))
	if endpointErr != nil {
		unhealthy = append(unhealthy, "endpoint: "+endpointErr.Error())
	}
	if msg, err := r.etcdRecoveryHealth(c, p, kindHealthy(members, results, controlplane.KindEtcd)); err != nil {
		return ctrl.Result{}, err
	} else if msg != "" {
		unhealthy = append(unhealthy, msg)
	}
	// A restored cluster replays its incrementals once etcd serves, and is not
	// ACTIVE before they are in.
	if msg := r.finishRestore(ctx, log, c, p, kindHealthy(members, results, controlplane.KindEtcd)); msg != "" {
		unhealthy = append(unhealthy, msg)
	}
	if len(unhealthy) == 0 {
		if err := r.ensureKubeconfig(ctx, c, p); err != nil {
			return ctrl.Result{}, err
		}
	}
	return r.summarize(log, c, unhealthy), nil
}

func probeAll(ctx context.Context, pr *controlplane.Prober, members []controlplane.Member) []error {
	results := make([]error, len(members))
	var wg sync.WaitGroup
	for i, m := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = pr.Check(ctx, m)
		}()
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

func (r *ClusterReconciler) componentStatuses(p *controlplane.Plan, members []controlplane.Member, results []error) []v1alpha1.ComponentStatus {
	out := make([]v1alpha1.ComponentStatus, len(members))
	for i, m := range members {
		st, _ := r.Runner.Status(p.Spec(m).ID)
		out[i] = v1alpha1.ComponentStatus{
			Name: m.Name(), Zone: m.Zone, Address: m.Address(),
			Ready: results[i] == nil, Message: errText(results[i]), Restarts: st.Restarts,
		}
		if st.Running {
			out[i].PID = st.PID
		}
	}
	return out
}

// setKindConditions sets one condition per component kind and returns what is unhealthy.
func setKindConditions(c *v1alpha1.Cluster, members []controlplane.Member, results []error) []string {
	bad := map[string][]string{}
	var unhealthy []string
	for i, m := range members {
		cond := kindCondition[m.Kind]
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
		setCondition(c, cond, len(names) == 0, pick(len(names) == 0, "Healthy", "Unhealthy"), msg)
	}
	return unhealthy
}

// setZoneShiftCondition reports a zone shift of the cell: the cluster's API
// servers there are drained by the endpoint and its controllers there stopped;
// etcd care moves etcd's leader out.
func setZoneShiftCondition(c *v1alpha1.Cluster, z *ZoneShifts) {
	zones := z.Zones()
	if len(zones) == 0 {
		meta.RemoveStatusCondition(&c.Status.Conditions, v1alpha1.ConditionZoneShifted)
		return
	}
	reason, why := "Evacuated", "is shifted out"
	if impaired := z.Impaired(); len(impaired) > 0 {
		reason, why = "ZoneImpaired", fmt.Sprintf("is out (zone %s impaired, evacuated automatically)", strings.Join(impaired, ", "))
	}
	setCondition(c, v1alpha1.ConditionZoneShifted, true, reason,
		fmt.Sprintf("zone %s %s: its API servers are drained and its controllers stopped; changes are paused", strings.Join(zones, ", "), why))
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
	setCondition(c, v1alpha1.ConditionEtcdQuorum, e.Quorum, pick(e.Quorum, "Quorum", "NoQuorum"), strings.Join(bad, "; "))
	leaderMsg := "no member leads"
	if e.Leader != "" {
		leaderMsg = e.Leader + " leads"
	}
	setCondition(c, v1alpha1.ConditionEtcdLeader, e.Leader != "", pick(e.Leader != "", "Elected", "NoLeader"), leaderMsg)
}

// summarize decides the cluster's status. Once ACTIVE a cluster stays ACTIVE and
// reports degradation through its conditions, as EKS reports health issues.
func (r *ClusterReconciler) summarize(log *slog.Logger, c *v1alpha1.Cluster, unhealthy []string) ctrl.Result {
	ready := len(unhealthy) == 0
	setCondition(c, v1alpha1.ConditionReady, ready, pick(ready, "Ready", "NotReady"), strings.Join(unhealthy, "; "))
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
			r.CreateTimeout, strings.Join(unhealthy, "; "), r.clusterDir(c)+"/logs"))
		return ctrl.Result{}
	}
	return ctrl.Result{RequeueAfter: pollCreating}
}

func (r *ClusterReconciler) prober(c *v1alpha1.Cluster, p *controlplane.Plan) (*controlplane.Prober, error) {
	if pr, ok := r.probers.Load(c.UID); ok {
		return pr.(*controlplane.Prober), nil
	}
	pr, err := controlplane.NewProber(p)
	if err != nil {
		return nil, fmt.Errorf("preparing health checks: %w", err)
	}
	actual, _ := r.probers.LoadOrStore(c.UID, pr)
	return actual.(*controlplane.Prober), nil
}

func setCondition(c *v1alpha1.Cluster, typ string, ok bool, reason, msg string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: c.Generation,
	})
}

func pick(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func encodeBase64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

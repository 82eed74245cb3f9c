package rollouts

import (
	"cmp"
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/platform"
)

// settle is how much later than the start of a bake a cell's report must be
// to count as its first: a probe round (apihealth.DefaultInterval) after.
const settle = 2 * time.Second

func seconds(v int32, def int) time.Duration {
	if v <= 0 {
		return time.Duration(def) * time.Second
	}
	return time.Duration(v) * time.Second
}

func thresholds(s v1alpha1.PlatformRolloutSpec) Thresholds {
	th := Thresholds{MaxErrorPercent: s.MaxErrorPercent, MaxLatencyFactor: s.MaxLatencyFactor}
	if th.MaxErrorPercent <= 0 {
		th.MaxErrorPercent = DefaultMaxErrorPercent
	}
	if th.MaxLatencyFactor <= 0 {
		th.MaxLatencyFactor = DefaultMaxLatencyFactor
	}
	return th
}

// advance takes the current wave one phase on: Pending records each
// cluster's baseline; Applying sets the version on the wave's clusters and
// waits for them to run it healthy; Baking watches them for the bake time.
func (r *Reconciler) advance(ctx context.Context, ro *v1alpha1.PlatformRollout) (ctrl.Result, error) {
	st := &ro.Status
	if int(st.CurrentWave) >= len(st.Waves) {
		r.finish(ro, v1alpha1.RolloutCompleted, fmt.Sprintf("every wave runs %s", ro.Spec.PlatformVersion))
		return ctrl.Result{}, nil
	}
	health, err := r.health(ctx)
	if err != nil {
		return ctrl.Result{}, err
	}
	w := &st.Waves[st.CurrentWave]
	switch w.Phase {
	case v1alpha1.WavePending:
		r.begin(w, health)
	case v1alpha1.WaveApplying:
		err = r.apply(ctx, ro, w, health)
	case v1alpha1.WaveBaking:
		err = r.bake(ctx, ro, w, health)
	}
	return ctrl.Result{RequeueAfter: pollRunning}, err
}

// begin records the baselines; the versions are set on the next pass, once
// the wave's clusters are in the status, so a rollback always knows them.
func (r *Reconciler) begin(w *v1alpha1.RolloutWave, health map[string]measure) {
	for i := range w.Targets {
		h := health[key(w.Targets[i])].ClusterAPIHealth
		w.Targets[i].Baseline = &h
	}
	t := metav1.NewTime(r.now())
	w.StartTime, w.Phase = &t, v1alpha1.WaveApplying
}

func (r *Reconciler) apply(ctx context.Context, ro *v1alpha1.PlatformRollout, w *v1alpha1.RolloutWave, health map[string]measure) error {
	var waiting []string
	for _, t := range w.Targets {
		c, err := r.cluster(ctx, t)
		if err != nil {
			return err
		}
		if err := r.setPlatform(ctx, c, ro.Spec.PlatformVersion); err != nil {
			return err
		}
		if c != nil && !runs(c, ro.Spec.PlatformVersion) {
			waiting = append(waiting, t.ClusterName)
		}
	}
	now := r.now()
	if len(waiting) == 0 {
		// Each cluster's bake counts from its cell's first report after
		// this (see bake): the last one may still hold the failed probes
		// of its members' restart.
		t := metav1.NewTime(now)
		w.BakeStartTime, w.Phase = &t, v1alpha1.WaveBaking
		return nil
	}
	if limit := seconds(ro.Spec.ApplySeconds, DefaultApplySeconds); now.Sub(w.StartTime.Time) > limit {
		r.alarm(ro, AlarmNotHealthy, waiting[0], fmt.Sprintf("%v did not run %s healthy within %s", waiting, ro.Spec.PlatformVersion, limit))
	}
	return nil
}

func (r *Reconciler) bake(ctx context.Context, ro *v1alpha1.PlatformRollout, w *v1alpha1.RolloutWave, health map[string]measure) error {
	th, enough := thresholds(ro.Spec), true
	for i := range w.Targets {
		t := &w.Targets[i]
		c, err := r.cluster(ctx, *t)
		if err != nil {
			return err
		}
		if c == nil {
			continue // deleted by its tenant: nothing to judge
		}
		if !runs(c, ro.Spec.PlatformVersion) {
			r.alarm(ro, AlarmNotHealthy, t.ClusterName, fmt.Sprintf("%s stopped running %s healthy: %s", t.ClusterName, ro.Spec.PlatformVersion, c.Status.Reason))
			return nil
		}
		m := health[key(*t)]
		if t.BakeStart == nil {
			if m.at.Before(w.BakeStartTime.Add(settle)) {
				enough = false
				continue
			}
			t.BakeStart = &m.ClusterAPIHealth
		}
		now := m.ClusterAPIHealth
		v := Judge(*cmp.Or(t.Baseline, &v1alpha1.ClusterAPIHealth{}), *t.BakeStart, now, th)
		switch {
		case v.Reset:
			t.BakeStart = &now
			enough = false
		case v.Alarm != "":
			r.alarm(ro, v.Alarm, t.ClusterName, t.ClusterName+": "+v.Why)
			return nil
		case !v.Enough:
			enough = false
		}
	}
	if enough && r.now().Sub(w.BakeStartTime.Time) >= seconds(ro.Spec.BakeSeconds, DefaultBakeSeconds) {
		t := metav1.NewTime(r.now())
		w.DoneTime, w.Phase = &t, v1alpha1.WaveDone
		ro.Status.CurrentWave++
	}
	return nil
}

// alarm halts the rollout: the wave is rolled back from the next pass on.
func (r *Reconciler) alarm(ro *v1alpha1.PlatformRollout, kind, cluster, why string) {
	ro.Status.Alarm = &v1alpha1.RolloutAlarm{Kind: kind, Cluster: cluster, Message: why, Time: metav1.NewTime(r.now())}
	ro.Status.State = v1alpha1.RolloutRollingBack
	ro.Status.Message = "alarm: " + why + "; rolling the wave back"
}

// rollBack returns the current wave's clusters to what they ran before, and
// halts the rollout once they run it healthy (or after the apply time, with
// a message saying which are not back yet).
func (r *Reconciler) rollBack(ctx context.Context, ro *v1alpha1.PlatformRollout) (ctrl.Result, error) {
	w := &ro.Status.Waves[ro.Status.CurrentWave]
	var waiting []string
	for _, t := range w.Targets {
		c, err := r.cluster(ctx, t)
		if err != nil {
			return ctrl.Result{}, err
		}
		if c == nil {
			continue
		}
		if c.Spec.PlatformVersion == ro.Spec.PlatformVersion {
			if err := r.setPlatform(ctx, c, t.Previous); err != nil {
				return ctrl.Result{}, err
			}
		}
		if !runs(c, cmp.Or(t.Previous, platform.Default(ro.Spec.Minor))) {
			waiting = append(waiting, t.ClusterName)
		}
	}
	since := ro.Status.Alarm.Time.Time
	if len(waiting) > 0 && r.now().Sub(since) <= seconds(ro.Spec.ApplySeconds, DefaultApplySeconds) {
		return ctrl.Result{RequeueAfter: pollRunning}, nil
	}
	w.Phase = v1alpha1.WaveRolledBack
	msg := fmt.Sprintf("halted by alarm %s on %s; wave %q rolled back", ro.Status.Alarm.Kind, ro.Status.Alarm.Cluster, w.Name)
	if len(waiting) > 0 {
		msg += fmt.Sprintf("; %v do not run their previous version healthy yet", waiting)
	}
	r.finish(ro, v1alpha1.RolloutHalted, msg)
	return ctrl.Result{}, nil
}

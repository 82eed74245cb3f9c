package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	utilversion "k8s.io/apimachinery/pkg/util/version"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/rollout"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// phaseRollout moves the control plane one step towards the release it
// should run, when it runs another, and says how soon to come back. It waits
// while a zone of the cell is out.
func (r *Reconciler) phaseRollout(ctx context.Context, log *slog.Logger, c *v1alpha1.Cluster, plans rollout.Plans, persist func(context.Context) error) (time.Duration, error) {
	if r.Zones.HoldRollout(c, plans.From != nil, c.Status.KubernetesVersion) || plans.From == nil {
		return 0, nil
	}
	want, err := plannerOf(r).wanted(ctx, c)
	if err != nil {
		return 0, err
	}
	from := plannerOf(r).running(ctx, c)
	typ := rollout.TypeUpgrade
	switch {
	case newer(from.Version, want.Version):
		typ = rollout.TypeRollback
	case from.Version == want.Version:
		typ = rollout.TypePlatform
	}
	was := c.Status.Rollout.DeepCopy()
	ro := rollout.Begin(c, from, want, typ, time.Now())
	if ro == nil {
		return 0, nil // this update ended; the cluster stays on what it runs
	}
	if was == nil || was.StartedAt == nil || !was.StartedAt.Equal(ro.StartedAt) || was.Reverting != ro.Reverting {
		log.Info("rollout", "type", ro.Type, "from", ro.From, "to", ro.To, "update", ro.UpdateID, "reverting", ro.Reverting)
		if err := persist(ctx); err != nil {
			return 0, err
		}
	}
	pr, err := r.probers.get(c.UID, plans.To)
	if err != nil {
		return 0, err
	}
	env := &rolloutEnv{r: r, p: plans.To, pr: pr, persist: persist}
	again, err := r.Rollouts.Step(ctx, c, plans, newer(ro.To, ro.From), env)
	if err != nil {
		return 0, err
	}
	if ro.Phase == v1alpha1.RolloutSuccessful && (c.Status.KubernetesVersion != ro.To || c.Status.PlatformVersion != ro.ToPlatform) {
		c.Status.KubernetesVersion, c.Status.PlatformVersion = ro.To, ro.ToPlatform
		log.Info("rollout finished", "to", ro.To, "platform", ro.ToPlatform, "took", time.Since(ro.StartedAt.Time).Round(time.Second))
	}
	if ro.Finished() && ro.Phase != v1alpha1.RolloutSuccessful && ro.FinishedAt != nil && time.Since(ro.FinishedAt.Time) < time.Minute {
		log.Warn("rollout ended without moving the cluster", "phase", ro.Phase, "error", ro.Error)
	}
	return again, nil
}

// rolloutEnv is rollout.Env over the cell's runner, endpoint and prober.
type rolloutEnv struct {
	r       *Reconciler
	p       *controlplane.Plan
	pr      *controlplane.Prober
	persist func(context.Context) error
}

func (e *rolloutEnv) Run(ctx context.Context, m controlplane.Member, p *controlplane.Plan) error {
	return e.r.ensureMember(ctx, p, m)
}

func (e *rolloutEnv) Healthy(ctx context.Context, m controlplane.Member) error {
	return e.pr.Check(ctx, m)
}

func (e *rolloutEnv) Drain(m *controlplane.Member) error {
	name := ""
	if m != nil {
		name = m.Name()
	}
	return e.r.Endpoint.Drain(e.p, name)
}

func (e *rolloutEnv) Persist(ctx context.Context) error { return e.persist(ctx) }

// Served reads the discovery of the first API server that answers.
func (e *rolloutEnv) Served(ctx context.Context) ([]string, error) {
	var errs []error
	for _, m := range e.p.Members(controlplane.KindAPIServer) {
		api, err := e.pr.Read(ctx, m, "/api")
		if err == nil {
			var apis []byte
			if apis, err = e.pr.Read(ctx, m, "/apis"); err == nil {
				return rollout.ServedVersions(api, apis)
			}
		}
		errs = append(errs, err)
	}
	return nil, errors.Join(errs...)
}

func (e *rolloutEnv) Stored(ctx context.Context) (map[string]int, error) {
	if e.r.Etcd == nil {
		return nil, errors.New("the cell has no etcd connection to check with")
	}
	v, err := e.r.Etcd(e.p)
	if err != nil {
		return nil, err
	}
	return rollout.StoredVersions(ctx, v)
}

// RestorePoint is the full backup the cell took after the update asked for
// one (the region asks with the backup-requested annotation when it accepts
// the update).
func (e *rolloutEnv) RestorePoint(c *v1alpha1.Cluster) (*v1alpha1.RestorePoint, error) {
	v, ok := c.Annotations[v1alpha1.AnnotationBackupRequested]
	if !ok {
		return nil, fmt.Errorf("the update asked for no backup")
	}
	asked, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return nil, fmt.Errorf("backup request %q: %w", v, err)
	}
	b := c.Status.Backup
	if b == nil || b.LastFullTime == nil || b.LastFullTime.Time.Before(asked) {
		return nil, nil
	}
	return &v1alpha1.RestorePoint{Time: *b.LastFullTime, Revision: b.LastFullRevision}, nil
}

// newer reports whether release a is newer than b; versions that do not
// parse compare as equal.
func newer(a, b string) bool {
	va, errA := utilversion.ParseSemantic(a)
	vb, errB := utilversion.ParseSemantic(b)
	return errA == nil && errB == nil && va.GreaterThan(vb)
}

package upgrades

import (
	"context"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/eks"
)

// DefaultEndOfSupportInterval is how often clusters are checked against the
// end of their minor's support.
const DefaultEndOfSupportInterval = time.Hour

// EndOfSupport upgrades, as EKS does, a cluster whose minor is past the end
// of the support its upgrade policy keeps it on: standard support for
// STANDARD, extended support for EXTENDED (the default). The upgrade is an
// ordinary VersionUpdate to the next minor, recorded without a request
// token, so it shows in ListUpdates like one the tenant started.
type EndOfSupport struct {
	Ops *Operations
	// List returns every cluster of the region.
	List func(ctx context.Context) ([]v1alpha1.Cluster, error)
	// Every defaults to DefaultEndOfSupportInterval.
	Every time.Duration
	// Now defaults to clusterversions.Now.
	Now func() time.Time
}

// Run checks once at once, then every Every, until ctx ends.
func (e *EndOfSupport) Run(ctx context.Context) {
	every := e.Every
	if every <= 0 {
		every = DefaultEndOfSupportInterval
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		e.Pass(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Pass upgrades every cluster that is due.
func (e *EndOfSupport) Pass(ctx context.Context) {
	now := clusterversions.Now
	if e.Now != nil {
		now = e.Now
	}
	cs, err := e.List(ctx)
	if err != nil {
		e.Ops.Log.Warn("listing clusters for end of support", "err", err)
		return
	}
	for i := range cs {
		c := &cs[i]
		target, due := Due(c, now())
		if !due {
			continue
		}
		if err := e.Ops.autoUpgrade(ctx, c, target); err != nil {
			e.Ops.Log.Warn("upgrading a cluster past the end of its support", "cluster", c.Spec.Name, "to", target, "err", err)
		}
	}
}

// Due reports whether c runs a minor past the end of the support its
// policy keeps it on, and the minor to upgrade it to. A cluster being
// created, deleted or changed waits; so does one with no newer minor offered.
func Due(c *v1alpha1.Cluster, now time.Time) (string, bool) {
	if !c.DeletionTimestamp.IsZero() || c.Status.Status != v1alpha1.StatusActive || c.Status.Rollout != nil && !c.Status.Rollout.Finished() {
		return "", false
	}
	cur := clusterversions.RunningMinor(c)
	end, ok := clusterversions.UpgradeAt(cur, PolicyOf(c))
	if !ok {
		return "", false
	}
	next, ok := nextMinor(cur)
	if _, offered := clusterversions.Lookup(next); !ok || !offered || now.Before(end) {
		return "", false
	}
	return next, true
}

// PolicyOf is c's support type: EXTENDED unless it chose STANDARD, as on EKS.
func PolicyOf(c *v1alpha1.Cluster) string {
	if p := c.Spec.UpgradePolicy; p != nil && p.SupportType != "" {
		return p.SupportType
	}
	return v1alpha1.SupportExtended
}

// autoUpgrade starts the upgrade of c to target, unless an update of it
// runs already.
func (o *Operations) autoUpgrade(ctx context.Context, c *v1alpha1.Cluster, target string) error {
	ups, err := o.Clusters.Updates(ctx, c)
	if err != nil {
		return err
	}
	for i := range ups {
		o.Settle(ctx, c, &ups[i])
	}
	if o.refuseConcurrent(c, ups) != nil {
		return nil // it goes once the running update ends
	}
	id := newID()
	err = o.Clusters.Change(ctx, c.Labels[v1alpha1.LabelAccount], c, func(c *v1alpha1.Cluster) error {
		if t, due := Due(c, time.Now()); !due || t != target {
			return errNotDue
		}
		c.Spec.Version, c.Spec.VersionUpdateID = target, id
		requestBackup(c)
		return nil
	})
	if err == errNotDue {
		return nil
	}
	if err != nil {
		return err
	}
	params := []v1alpha1.UpdateParam{{Type: eks.UpdateParamVersion, Value: target}}
	if _, err := o.Clusters.Record(ctx, c, v1alpha1.ClusterUpdateSpec{ID: id, Type: eks.UpdateTypeVersion, Params: params}); err != nil {
		return err
	}
	o.Log.Info("upgrading a cluster past the end of its support", "cluster", c.Spec.Name, "to", target, "policy", PolicyOf(c), "update", id)
	return nil
}

package upgrades

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusterupdates"
	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// newID is a fresh update ID, chosen before the cluster moves so the
// cluster can name the update that moved it.
var newID = clusterupdates.NewUUID

// errNotDue stops a change that another writer made unnecessary.
var errNotDue = errors.New("not due")

// KubeletSkew is how many minors a node's kubelet may run behind the API
// servers (the Kubernetes version skew policy since 1.28).
const KubeletSkew = 3

// UpdateVersion serves UpdateClusterVersion: POST /clusters/{name}/updates.
// It moves spec.version (to the next minor, or back with rollbackConfig),
// asks the cell for a full backup as the restore point, and records the
// update, which the cell carries out.
func (o *Operations) UpdateVersion(r *http.Request) (any, error) {
	var in eks.UpdateClusterVersionInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	if err := eksinput.ValidateToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	if in.Version == "" {
		return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "The version is missing: name the Kubernetes minor to update to.")
	}
	if rc := in.RollbackConfig; rc != nil && rc.TimeoutMinutes != nil &&
		(*rc.TimeoutMinutes < eks.MinRollbackTimeoutMinutes || *rc.TimeoutMinutes > eks.MaxRollbackTimeoutMinutes) {
		return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "rollbackConfig.timeoutMinutes must be between %d and %d; got %d.",
			eks.MinRollbackTimeoutMinutes, eks.MaxRollbackTimeoutMinutes, *rc.TimeoutMinutes)
	}
	c, err := o.Clusters.Cluster(r)
	if err != nil {
		return nil, err
	}
	target, err := offered(in.Version)
	if err != nil {
		return nil, err
	}
	typ := eks.UpdateTypeVersion
	if in.RollbackConfig != nil {
		typ = eks.UpdateTypeVersionRollback
	}
	params := []v1alpha1.UpdateParam{{Type: eks.UpdateParamVersion, Value: target}}
	ctx := r.Context()
	ups, err := o.Clusters.Updates(ctx, c)
	if err != nil {
		return nil, err
	}
	for i := range ups {
		o.Settle(ctx, c, &ups[i])
	}
	// A retry comes after spec.version moved, so the token is looked up
	// before the version rules would refuse it.
	if u, err := o.retried(ctx, c, ups, in.ClientRequestToken, typ, params); err != nil || u != nil {
		return output(o.Clusters.Wire, u, err)
	}
	ngVersions, err := o.Clusters.NodegroupVersions(ctx, c)
	if err != nil {
		return nil, err
	}
	id := newID()
	err = o.Clusters.Change(ctx, o.Clusters.Account(r), c, func(c *v1alpha1.Cluster) error {
		if err := o.Clusters.RequireActive(c); err != nil {
			return err
		}
		if err := o.refuseConcurrent(c, ups); err != nil {
			return err
		}
		var err error
		if typ == eks.UpdateTypeVersionRollback {
			err = checkRollback(c, target, time.Now())
		} else {
			err = o.checkUpgrade(c, target, ngVersions, in.Force)
		}
		if err != nil {
			return err
		}
		c.Spec.Version, c.Spec.VersionUpdateID = target, id
		requestBackup(c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	spec := v1alpha1.ClusterUpdateSpec{ID: id, Type: typ, Params: params, ClientRequestToken: in.ClientRequestToken}
	u, err := o.Clusters.Record(ctx, c, spec)
	return output(o.Clusters.Wire, u, err)
}

// retried finds the update a retry repeats: by its token, or, for a
// request whose record was lost after the cluster moved, the update the
// cluster's spec names.
func (o *Operations) retried(ctx context.Context, c *v1alpha1.Cluster, ups []v1alpha1.ClusterUpdate, token, typ string, params []v1alpha1.UpdateParam) (*v1alpha1.ClusterUpdate, error) {
	if u, err := clusterupdates.ByToken(ups, c.Spec.Name, token, typ, params); token == "" || u != nil || err != nil {
		return u, err
	}
	id := c.Spec.VersionUpdateID
	if id == "" || c.Spec.Version != params[0].Value || slices.ContainsFunc(ups, func(u v1alpha1.ClusterUpdate) bool { return u.Spec.ID == id }) {
		return nil, nil
	}
	// The cluster moved under this ID but no record says so: the request
	// that moved it stopped before recording. Record it now.
	return o.Clusters.Record(ctx, c, v1alpha1.ClusterUpdateSpec{ID: id, Type: typ, Params: params, ClientRequestToken: token})
}

// refuseConcurrent refuses a second update while one is in progress, in the
// records or in the cell.
func (o *Operations) refuseConcurrent(c *v1alpha1.Cluster, ups []v1alpha1.ClusterUpdate) error {
	for _, u := range ups {
		if st := o.Clusters.Wire(&u).Status; st == eks.UpdateStatusInProgress && u.Spec.NodegroupName == "" {
			return errdefs.Publicf(o.InUse, "Update %s of cluster %s is in progress; retry when it has finished.", u.Spec.ID, c.Spec.Name)
		}
	}
	if ro := c.Status.Rollout; ro != nil && !ro.Finished() {
		return errdefs.Publicf(o.InUse, "Cluster %s is moving from %s to %s; retry when it has finished.", c.Spec.Name, ro.From, ro.To)
	}
	return nil
}

// checkUpgrade applies EKS's rules: one minor at a time, node groups within
// the kubelet skew of the new minor, and no readiness check in ERROR unless
// forced.
func (o *Operations) checkUpgrade(c *v1alpha1.Cluster, target string, ngVersions []string, force bool) error {
	cur := clusterversions.RunningMinor(c)
	if target == cur {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "Cluster %s already runs Kubernetes %s.", c.Spec.Name, cur)
	}
	if next, ok := nextMinor(cur); !ok || next != target {
		hint := ""
		if clusterversions.MinorNumber(target) < clusterversions.MinorNumber(cur) {
			hint = " To go back to the minor before the last upgrade, pass rollbackConfig within 7 days of it."
		}
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "Unsupported Kubernetes minor version update from %s to %s: update one minor version at a time.%s", cur, target, hint)
	}
	for _, v := range ngVersions {
		if clusterversions.MinorNumber(target)-clusterversions.MinorNumber(v) > KubeletSkew {
			return errdefs.Publicf(errdefs.ErrInvalidRequest, "Cluster %s has node groups on Kubernetes %s, more than %d minors behind %s: update them with UpdateNodegroupVersion first.", c.Spec.Name, v, KubeletSkew, target)
		}
	}
	if o.RefuseUpgrade != nil && !force {
		return o.RefuseUpgrade(c, target)
	}
	return nil
}

// checkRollback allows going back to the minor the cluster ran before its
// last upgrade, within RollbackWindow of the upgrade's end.
func checkRollback(c *v1alpha1.Cluster, target string, now time.Time) error {
	ro := c.Status.Rollout
	if ro == nil || ro.Type != eks.UpdateTypeVersion || ro.Phase != v1alpha1.RolloutSuccessful || ro.FinishedAt == nil {
		return errdefs.Publicf(errdefs.ErrInvalidRequest, "Cluster %s has no upgrade to roll back: a rollback returns to the minor a cluster ran before its last upgrade, within 7 days of it.", c.Spec.Name)
	}
	if from := clusterversions.MinorOf(ro.From); from != target {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "Cluster %s can roll back only to %s, the minor it ran before its last upgrade; got %s.", c.Spec.Name, from, target)
	}
	if closes := ro.FinishedAt.Add(clusterversions.RollbackWindow); now.After(closes) {
		return errdefs.Publicf(errdefs.ErrInvalidRequest, "The rollback window of cluster %s's upgrade to %s closed at %s, 7 days after it finished.", c.Spec.Name, clusterversions.MinorOf(ro.To), closes.UTC().Format(time.RFC3339))
	}
	return nil
}

// requestBackup asks the cell for a full backup now: the rollout's restore
// point. The cell waits for a full taken after this time before it moves
// anything.
func requestBackup(c *v1alpha1.Cluster) {
	if c.Annotations == nil {
		c.Annotations = map[string]string{}
	}
	c.Annotations[v1alpha1.AnnotationBackupRequested] = time.Now().UTC().Format(time.RFC3339)
}

// offered resolves the requested version to an offered minor.
func offered(version string) (string, error) {
	r, ok := clusterversions.Lookup(version)
	if !ok {
		var minors []string
		for _, r := range clusterversions.Offered() {
			minors = append(minors, r.Minor)
		}
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "Kubernetes version %q is not supported. Supported versions: %s.", version, strings.Join(minors, ", "))
	}
	return r.Minor, nil
}

// nextMinor returns the minor after "1.35": "1.36".
func nextMinor(minor string) (string, bool) {
	major, m, ok := strings.Cut(minor, ".")
	n, err := strconv.Atoi(m)
	if !ok || err != nil {
		return "", false
	}
	return fmt.Sprintf("%s.%d", major, n+1), true
}

func output(wire func(*v1alpha1.ClusterUpdate) *eks.Update, u *v1alpha1.ClusterUpdate, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return eks.UpdateOutput{Update: wire(u)}, nil
}

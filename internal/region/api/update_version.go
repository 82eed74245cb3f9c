package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/insights"
)

// updateClusterVersion serves UpdateClusterVersion: POST /clusters/{name}/updates.
// It moves spec.version to the next minor and records an InProgress
// VersionUpdate; the cell carries the upgrade out.
func (s *server) updateClusterVersion(r *http.Request) (any, error) {
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
	c, err := s.clusterOfRequest(r)
	if err != nil {
		return nil, err
	}
	target, err := upgradeTarget(in.Version)
	if err != nil {
		return nil, err
	}
	params := []v1alpha1.UpdateParam{
		{Type: eks.UpdateParamVersion, Value: target},
		{Type: eks.UpdateParamPlatformVersion, Value: PlatformVersion},
	}
	// A retry comes after spec.version moved, so the token is checked before the
	// version rules would refuse it.
	if u, err := s.updateByToken(r.Context(), c, in.ClientRequestToken, eks.UpdateTypeVersion, params); err != nil || u != nil {
		return updateOutput(u, err)
	}
	err = s.updateCluster(r.Context(), accountFor(r), c, func(c *v1alpha1.Cluster) error {
		if err := checkUpgrade(c, target); err != nil {
			return err
		}
		if err := insights.RefuseUpgrade(c, target, in.Force); err != nil {
			return err
		}
		if err := s.refuseConcurrent(r, c); err != nil {
			return err
		}
		c.Spec.Version = target
		return nil
	})
	if err != nil {
		return nil, err
	}
	spec := v1alpha1.ClusterUpdateSpec{Type: eks.UpdateTypeVersion, Params: params, ClientRequestToken: in.ClientRequestToken}
	return updateOutput(s.recordUpdate(r.Context(), c, spec, v1alpha1.UpdateInProgress))
}

// upgradeTarget resolves the requested version to an offered minor.
func upgradeTarget(version string) (string, error) {
	r, ok := clusterversions.Lookup(version)
	if !ok {
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "Kubernetes version %q is not supported. Supported versions: %s.", version, offeredMinors())
	}
	return r.Minor, nil
}

// checkUpgrade applies EKS's rules: one minor at a time, from an ACTIVE cluster.
func checkUpgrade(c *v1alpha1.Cluster, target string) error {
	cur := c.Spec.Version
	if target == cur {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "Cluster %s already runs Kubernetes %s.", c.Spec.Name, cur)
	}
	if next, ok := nextMinor(cur); !ok || next != target {
		return errdefs.Publicf(errdefs.ErrInvalidParameter, "Unsupported Kubernetes minor version update from %s to %s: update one minor version at a time.", cur, target)
	}
	return requireActive(c)
}

// refuseConcurrent refuses a second update while one is in progress.
func (s *server) refuseConcurrent(r *http.Request, c *v1alpha1.Cluster) error {
	ups, err := s.updatesOf(r.Context(), c)
	if err != nil {
		return err
	}
	for _, u := range ups {
		if st := toWireUpdate(&u).Status; st == eks.UpdateStatusInProgress {
			return errdefs.Publicf(errResourceInUse, "Update %s of cluster %s is in progress; retry when it has finished.", u.Spec.ID, c.Spec.Name)
		}
	}
	return nil
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

func offeredMinors() string {
	var out []string
	for _, r := range clusterversions.Offered() {
		out = append(out, r.Minor)
	}
	return strings.Join(out, ", ")
}

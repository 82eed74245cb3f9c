package nodegroups

import (
	"regexp"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/ipam"
)

// Limits of a node group, as EKS sets them where it sets one.
const (
	// MaxSize is the largest maxSize a group may have: EKS's nodes per
	// managed node group.
	MaxSize = 450
	// MaxLabels and MaxTaints bound a group's labels and taints.
	MaxLabels = 100
	MaxTaints = 50
)

// Defaults of a scalingConfig left out, as EKS fills them.
const (
	defaultMinSize     = 1
	defaultMaxSize     = 2
	defaultDesiredSize = 2
)

// nameRE is EKS's node group name: a letter or digit, then letters, digits,
// hyphens and underscores, at most 63 in all.
var nameRE = regexp.MustCompile(`^[0-9A-Za-z][A-Za-z0-9\-_]{0,62}$`)

// reservedPrefixes are label and taint key prefixes the nodes' own
// machinery sets: a tenant's value there would fight it.
var reservedPrefixes = []string{"cellplane.io/", "kubernetes.io/", "k8s.io/", "node-role.kubernetes.io/", "eks.amazonaws.com/"}

// taintEffects maps EKS's taint effects to Kubernetes'.
var taintEffects = map[string]string{"NO_SCHEDULE": "NoSchedule", "NO_EXECUTE": "NoExecute", "PREFER_NO_SCHEDULE": "PreferNoSchedule"}

// KubernetesEffect is the Kubernetes spelling of an EKS taint effect.
func KubernetesEffect(e string) string { return taintEffects[e] }

func invalid(format string, args ...any) error {
	return errdefs.Publicf(errdefs.ErrInvalidParameter, format, args...)
}

// validateName refuses a node group name EKS would refuse.
func validateName(name string) error {
	if !nameRE.MatchString(name) {
		return invalid("The nodegroupName %q is not valid: it must be 1 to 63 letters, digits, hyphens and underscores, starting with a letter or digit.", name)
	}
	return nil
}

// amiType is the node kind a group asks for: CELLPLANE_KUBELET by default.
func amiType(t string) (string, error) {
	switch t {
	case "":
		return v1alpha1.AMITypeKubelet, nil
	case v1alpha1.AMITypeKubelet, v1alpha1.AMITypeHollow:
		return t, nil
	}
	return "", invalid("The amiType %s is not offered: cellplane runs %s (a real kubelet) and %s (kubemark hollow nodes).", t, v1alpha1.AMITypeKubelet, v1alpha1.AMITypeHollow)
}

// scaling checks a whole scalingConfig, after defaults are filled in.
func scaling(s v1alpha1.NodeGroupScaling) error {
	switch {
	case s.MinSize < 0 || s.MaxSize < 0 || s.DesiredSize < 0:
		return invalid("The scalingConfig sizes must not be negative (minSize %d, maxSize %d, desiredSize %d).", s.MinSize, s.MaxSize, s.DesiredSize)
	case s.MaxSize < 1:
		return invalid("The scalingConfig maxSize must be at least 1; got %d.", s.MaxSize)
	case s.MaxSize > MaxSize:
		return invalid("The scalingConfig maxSize must be at most %d; got %d.", MaxSize, s.MaxSize)
	case s.MinSize > s.MaxSize:
		return invalid("The scalingConfig minSize %d is greater than maxSize %d.", s.MinSize, s.MaxSize)
	case s.DesiredSize < s.MinSize || s.DesiredSize > s.MaxSize:
		return invalid("The scalingConfig desiredSize %d must be between minSize %d and maxSize %d.", s.DesiredSize, s.MinSize, s.MaxSize)
	}
	return nil
}

// applyScaling lays the fields given over base.
func applyScaling(base v1alpha1.NodeGroupScaling, in *eks.NodegroupScalingConfig) v1alpha1.NodeGroupScaling {
	if in == nil {
		return base
	}
	for _, f := range []struct {
		v   *int32
		dst *int32
	}{{in.MinSize, &base.MinSize}, {in.MaxSize, &base.MaxSize}, {in.DesiredSize, &base.DesiredSize}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	return base
}

// validateLabels refuses labels Kubernetes or the node machinery would refuse.
func validateLabels(labels map[string]string) error {
	if len(labels) > MaxLabels {
		return invalid("A node group has at most %d labels; got %d.", MaxLabels, len(labels))
	}
	for k, v := range labels {
		if err := labelKey(k); err != nil {
			return err
		}
		if errs := validation.IsValidLabelValue(v); len(errs) > 0 {
			return invalid("The label value %q of %s is not valid: %s.", v, k, strings.Join(errs, "; "))
		}
	}
	return nil
}

func labelKey(k string) error {
	if errs := validation.IsQualifiedName(k); len(errs) > 0 {
		return invalid("The label or taint key %q is not valid: %s.", k, strings.Join(errs, "; "))
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(k, p) || strings.Contains(k, "."+p) {
			return invalid("The label or taint key %q is reserved: keys under %s are set by the nodes themselves.", k, strings.TrimSuffix(p, "/"))
		}
	}
	return nil
}

// taints checks and converts a list of taints; a key may appear once per effect.
func taints(in []eks.Taint) ([]v1alpha1.NodeGroupTaint, error) {
	out := make([]v1alpha1.NodeGroupTaint, 0, len(in))
	for _, t := range in {
		if err := labelKey(t.Key); err != nil {
			return nil, err
		}
		if t.Value != "" {
			if errs := validation.IsValidLabelValue(t.Value); len(errs) > 0 {
				return nil, invalid("The taint value %q of %s is not valid: %s.", t.Value, t.Key, strings.Join(errs, "; "))
			}
		}
		if _, ok := taintEffects[t.Effect]; !ok {
			return nil, invalid("The taint effect %q of %s is not valid: use NO_SCHEDULE, NO_EXECUTE or PREFER_NO_SCHEDULE.", t.Effect, t.Key)
		}
		nt := v1alpha1.NodeGroupTaint{Key: t.Key, Value: t.Value, Effect: t.Effect}
		if slices.ContainsFunc(out, func(o v1alpha1.NodeGroupTaint) bool { return o.Key == nt.Key && o.Effect == nt.Effect }) {
			return nil, invalid("The taint %s:%s is given twice.", t.Key, t.Effect)
		}
		out = append(out, nt)
	}
	if len(out) > MaxTaints {
		return nil, invalid("A node group has at most %d taints; got %d.", MaxTaints, len(out))
	}
	return out, nil
}

// version checks a node group's Kubernetes version against its cluster's:
// nodes run the cluster's minor (the only skew cellplane offers while it
// offers one release per minor). It returns the minor and release version.
func version(c *v1alpha1.Cluster, v, release string) (string, string, error) {
	cluster := clusterversions.RunningMinor(c)
	minor := v
	if minor == "" {
		minor = cluster
	}
	if n, cn := clusterversions.MinorNumber(minor), clusterversions.MinorNumber(cluster); n < 0 || n > cn || cn-n > KubeletSkew {
		return "", "", invalid("The version %s is not valid for cluster %s: node groups run the cluster's minor, %s, or one at most %d minors older (the kubelet skew policy), never a newer one.", minor, c.Spec.Name, cluster, KubeletSkew)
	}
	rel, err := components.Lookup(minor)
	if err != nil {
		return "", "", invalid("The version %s is not offered: %v.", minor, err)
	}
	want := ReleaseVersion(rel)
	if release != "" && release != want {
		return "", "", invalid("The releaseVersion %s is not offered for Kubernetes %s: the offered release is %s.", release, minor, want)
	}
	return minor, want, nil
}

// KubeletSkew is how many minors a kubelet may run behind the API servers.
const KubeletSkew = 3

// ReleaseVersion is a release as a node group's releaseVersion: the patch
// release the nodes' kubelets are built from.
func ReleaseVersion(r components.Release) string { return strings.TrimPrefix(r.Version, "v") }

// zonesOf spreads a group over the cell's zones: the subnets may name zones
// ("a", "b", "c", or a name ending in -a, -b, -c); others are accepted and
// echoed, and a group whose subnets name no zone spreads over them all.
func zonesOf(subnets []string) []string {
	var out []string
	for _, s := range subnets {
		for _, z := range ipam.Zones {
			if (s == z || strings.HasSuffix(s, "-"+z)) && !slices.Contains(out, z) {
				out = append(out, z)
			}
		}
	}
	if len(out) == 0 {
		return append([]string(nil), ipam.Zones...)
	}
	slices.Sort(out)
	return out
}

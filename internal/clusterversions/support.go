package clusterversions

import (
	"strconv"
	"strings"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/eks"
)

// Support windows, counted from a minor's upstream release, as EKS counts
// them from its own: 14 months of standard support, then 12 of extended.
const (
	StandardSupportMonths = 14
	ExtendedSupportMonths = 26
)

// RollbackWindow is how long after an upgrade finished it can be rolled
// back.
const RollbackWindow = 7 * 24 * time.Hour

// Now is the clock support status is judged by; tests move it.
var Now = time.Now

// Support is a minor's support calendar.
type Support struct {
	Released, EndOfStandard, EndOfExtended time.Time
}

// SupportOf is the calendar of release r; zero for a release with no date.
func SupportOf(r components.Release) Support {
	if r.Released.IsZero() {
		return Support{}
	}
	return Support{
		Released:      r.Released,
		EndOfStandard: r.Released.AddDate(0, StandardSupportMonths, 0),
		EndOfExtended: r.Released.AddDate(0, ExtendedSupportMonths, 0),
	}
}

// Status is where t falls: STANDARD_SUPPORT, EXTENDED_SUPPORT or
// UNSUPPORTED. A release with no date is in standard support.
func (s Support) Status(t time.Time) string {
	switch {
	case s.Released.IsZero() || t.Before(s.EndOfStandard):
		return eks.VersionStatusStandardSupport
	case t.Before(s.EndOfExtended):
		return eks.VersionStatusExtendedSupport
	}
	return eks.VersionStatusUnsupported
}

// SupportOfMinor is the calendar of an offered minor, and whether it is
// offered.
func SupportOfMinor(minor string) (Support, bool) {
	r, ok := Lookup(minor)
	if !ok {
		return Support{}, false
	}
	return SupportOf(r), true
}

// Support types of an upgrade policy, as EKS spells them.
const (
	SupportStandard = "STANDARD"
	SupportExtended = "EXTENDED"
)

// UpgradeAt is when a cluster on minor under support type supportType
// ("" means EXTENDED, EKS's default) is upgraded automatically: at the end
// of standard support for STANDARD, of extended support for EXTENDED. False
// for a minor not offered or without a date.
func UpgradeAt(minor, supportType string) (time.Time, bool) {
	sup, ok := SupportOfMinor(minor)
	if !ok || sup.Released.IsZero() {
		return time.Time{}, false
	}
	if supportType == SupportStandard {
		return sup.EndOfStandard, true
	}
	return sup.EndOfExtended, true
}

// RunningMinor is the minor c's control plane runs ("1.36"): what the cell
// reports, or the spec's before it reported anything. After a failed or
// cancelled upgrade the spec is ahead of it.
func RunningMinor(c *v1alpha1.Cluster) string {
	if v := c.Status.KubernetesVersion; v != "" {
		return MinorOf(v)
	}
	return c.Spec.Version
}

// MinorOf turns "v1.36.3" into "1.36"; anything else stays as it is.
func MinorOf(version string) string {
	parts := strings.SplitN(strings.TrimPrefix(version, "v"), ".", 3)
	if len(parts) < 2 {
		return version
	}
	return parts[0] + "." + parts[1]
}

// MinorNumber is 36 for "1.36"; -1 when it does not parse.
func MinorNumber(minor string) int {
	_, m, ok := strings.Cut(minor, ".")
	n, err := strconv.Atoi(m)
	if !ok || err != nil {
		return -1
	}
	return n
}

package platform

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Errors a caller can tell apart.
var (
	ErrUnknown      = errors.New("unknown platform version")
	ErrWrongMinor   = errors.New("platform version does not apply to the minor")
	ErrInvalid      = errors.New("invalid platform version")
	ErrBuiltinTaken = errors.New("platform version name is built in")
)

// Version is one platform version.
type Version struct {
	Name        string
	Minors      []string
	Description string
	Overlay
}

// Overlay is what a version changes in the baseline cellplane builds.
type Overlay struct {
	// Args by component kind: each --name=value replaces the flag of that
	// name, or is added.
	Args map[string][]string
	// AuditPolicy, when set, replaces the API servers' audit policy.
	AuditPolicy string
}

// Components whose flags an overlay may set.
var Components = []string{"kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// Baseline is the first platform version of every minor: exactly what
// cellplane built before platform versions existed, so naming it changes
// no running process.
const Baseline = "cellplane.1"

var nameRE = regexp.MustCompile(`^cellplane\.[1-9][0-9]{0,5}$`)

// builtins is the catalogue shipped with cellplane. A minor's default is
// its first entry: raising it would restart every cluster of the minor at
// once, so a new version reaches clusters through a rollout instead.
var builtins = []Version{
	{Name: Baseline, Minors: []string{"1.34", "1.35", "1.36", "1.37"},
		Description: "the baseline: the flags, admission and audit configuration of cellplane's first release"},
	{Name: "cellplane.2", Minors: []string{"1.36", "1.37"},
		Description: "audit logs kept 7 days and compressed when rotated",
		Overlay: Overlay{Args: map[string][]string{
			"kube-apiserver": {"--audit-log-maxage=7", "--audit-log-compress=true"},
		}}},
}

// Builtins lists the built-in versions.
func Builtins() []Version { return slices.Clone(builtins) }

// Default is the version a cluster of minor runs when its spec names none.
func Default(minor string) string { return Baseline }

func builtin(name string) (Version, bool) {
	for _, v := range builtins {
		if v.Name == name {
			return v, true
		}
	}
	return Version{}, false
}

// AppliesTo reports whether v may run on minor.
func (v Version) AppliesTo(minor string) bool { return slices.Contains(v.Minors, minor) }

// Apply returns args with the overlay's flags for kind: a flag the overlay
// names replaces the one of the same name in args (in place, so the order
// of the others stays), any other is appended.
func (o Overlay) Apply(kind string, args []string) []string {
	extra := o.Args[kind]
	if len(extra) == 0 {
		return args
	}
	out := slices.Clone(args)
	for _, f := range extra {
		if i := slices.IndexFunc(out, func(a string) bool { return flagName(a) == flagName(f) }); i >= 0 {
			out[i] = f
		} else {
			out = append(out, f)
		}
	}
	return out
}

func flagName(arg string) string {
	name, _, _ := strings.Cut(arg, "=")
	return name
}

// FromObject is the version a registered object describes.
func FromObject(pv *v1alpha1.PlatformVersion) Version {
	v := Version{Name: pv.Name, Minors: pv.Spec.Minors, Description: pv.Spec.Description,
		Overlay: Overlay{AuditPolicy: pv.Spec.AuditPolicy}}
	for _, a := range pv.Spec.Args {
		if v.Args == nil {
			v.Args = map[string][]string{}
		}
		v.Args[a.Component] = append(v.Args[a.Component], a.Args...)
	}
	return v
}

// Validate checks a version an operator registers.
func Validate(pv *v1alpha1.PlatformVersion, minors []string) error {
	if !nameRE.MatchString(pv.Name) {
		return fmt.Errorf("%w: name %q: want cellplane.N", ErrInvalid, pv.Name)
	}
	if _, ok := builtin(pv.Name); ok {
		return fmt.Errorf("%w: %s", ErrBuiltinTaken, pv.Name)
	}
	if len(pv.Spec.Minors) == 0 {
		return fmt.Errorf("%w: %s names no minor", ErrInvalid, pv.Name)
	}
	for _, m := range pv.Spec.Minors {
		if !slices.Contains(minors, m) {
			return fmt.Errorf("%w: %s: minor %q is not offered (offered: %s)", ErrInvalid, pv.Name, m, strings.Join(minors, ", "))
		}
	}
	for _, a := range pv.Spec.Args {
		if err := validateArgs(a); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrInvalid, pv.Name, err)
		}
	}
	return nil
}

func validateArgs(a v1alpha1.ComponentArgs) error {
	if !slices.Contains(Components, a.Component) {
		return fmt.Errorf("component %q: want one of %s", a.Component, strings.Join(Components, ", "))
	}
	if len(a.Args) == 0 {
		return fmt.Errorf("component %s: no args", a.Component)
	}
	for _, f := range a.Args {
		if !strings.HasPrefix(f, "--") || len(flagName(f)) < 3 || strings.ContainsAny(f, "\n\x00") {
			return fmt.Errorf("component %s: %q is not a --flag or --flag=value", a.Component, f)
		}
	}
	return nil
}

package addoncatalog

import (
	"slices"

	"github.com/cellplane/cellplane/internal/clusterversions"
	"github.com/cellplane/cellplane/internal/components"
)

// The add-ons offered, by their EKS names.
const (
	CoreDNS   = "coredns"
	KubeProxy = "kube-proxy"
)

// Registry is the registry name of the images add-ons run. No registry
// serves it: nodes get the images loaded into their containerd, so the
// workloads pull with imagePullPolicy Never.
const Registry = "cellplane.local"

// eksBuild is the packaging suffix of every version cellplane offers, in
// EKS's style (v1.35.4-eksbuild.1): the upstream release, packaged once.
const eksBuild = "-eksbuild.1"

// Version is one offered version of an add-on.
type Version struct {
	// Addon is the add-on's name.
	Addon string
	// Version is the version as the API names it (v1.12.4-eksbuild.1).
	Version string
	// Upstream is the upstream release it runs (v1.12.4).
	Upstream string
	// Default marks the version a new cluster of the minor gets.
	Default bool
}

// Image is the image the version's workload runs.
func (v Version) Image() string { return Image(v.Addon, v.Upstream) }

// Image names the image of an add-on at an upstream release:
// cellplane.local/coredns:v1.12.4, cellplane.local/kube-proxy:v1.35.4.
func Image(addon, upstream string) string {
	return Registry + "/" + addon + ":" + upstream
}

// Names lists the offered add-ons, sorted.
func Names() []string { return []string{CoreDNS, KubeProxy} }

// Known reports whether name is an offered add-on.
func Known(name string) bool { return slices.Contains(Names(), name) }

// Versions lists the versions of an add-on compatible with a Kubernetes
// minor, newest first; none for an unknown add-on or minor.
func Versions(addon, minor string) []Version {
	r, ok := clusterversions.Lookup(minor)
	if !ok || r.Minor != minor {
		return nil
	}
	switch addon {
	case CoreDNS:
		// One CoreDNS release is built (components.CoreDNSVersion); it
		// serves every offered minor, as upstream's does.
		return []Version{{Addon: CoreDNS, Version: components.CoreDNSVersion + eksBuild, Upstream: components.CoreDNSVersion, Default: true}}
	case KubeProxy:
		// kube-proxy runs the cluster's own release: kube-proxy may not be
		// newer than the API server, and cellplane builds one patch per minor.
		return []Version{{Addon: KubeProxy, Version: r.Version + eksBuild, Upstream: r.Version, Default: true}}
	}
	return nil
}

// Lookup finds an add-on's version compatible with a minor.
func Lookup(addon, minor, version string) (Version, bool) {
	i := slices.IndexFunc(Versions(addon, minor), func(v Version) bool { return v.Version == version })
	if i < 0 {
		return Version{}, false
	}
	return Versions(addon, minor)[i], true
}

// Default is the version of an add-on a new cluster of the minor gets.
func Default(addon, minor string) (Version, bool) {
	for _, v := range Versions(addon, minor) {
		if v.Default {
			return v, true
		}
	}
	return Version{}, false
}

// Minors lists the offered Kubernetes minors.
func Minors() []string {
	var out []string
	for _, r := range clusterversions.Offered() {
		out = append(out, r.Minor)
	}
	return out
}

// Images lists every image the offered add-on versions run, sorted: what a
// node must have loaded to run any add-on of any offered cluster.
func Images() []string {
	var out []string
	for _, m := range Minors() {
		for _, a := range Names() {
			for _, v := range Versions(a, m) {
				out = append(out, v.Image())
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// PodCIDR is the tenant clusters' pod network, which kube-proxy's
// clusterCIDR names (traffic from outside it to a Service is masqueraded).
// Whatever gives nodes their pod ranges must allocate them inside it.
const PodCIDR = "10.244.0.0/16"

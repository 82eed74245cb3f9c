package addons

import (
	"net/http"
	"slices"

	"github.com/cellplane/cellplane/internal/addoncatalog"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/paging"
)

// Versions serves DescribeAddonVersions: GET /addons/supported-versions
// with the kubernetesVersion and addonName filters. Each version lists the
// minors it is compatible with and whether it is their default. Pages are
// cut by add-on name.
func (o *Operations) Versions(r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, err := paging.ParseLimit(q.Get("maxResults"), eks.MinListAddonsResults, eks.MaxListAddonsResults, eks.DefaultListAddonsResults)
	if err != nil {
		return nil, err
	}
	after := ""
	if t := q.Get("nextToken"); t != "" {
		var ok bool
		if after, ok = paging.DecodeToken(t); !ok {
			return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "The nextToken is not valid: pass the nextToken of a previous DescribeAddonVersions response unchanged.")
		}
	}
	minors := addoncatalog.Minors()
	if k := q.Get("kubernetesVersion"); k != "" {
		if !slices.Contains(minors, k) {
			return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "kubernetesVersion %s is not supported. Supported versions: %v.", k, minors)
		}
		minors = []string{k}
	}
	names := addoncatalog.Names()
	if n := q.Get("addonName"); n != "" {
		names = slices.DeleteFunc(names, func(s string) bool { return s != n })
	}
	var infos []eks.AddonInfo
	for _, n := range names {
		if info := o.info(n, minors); len(info.AddonVersions) > 0 {
			infos = append(infos, info)
		}
	}
	var shown []string
	for _, i := range infos {
		shown = append(shown, i.AddonName)
	}
	page, next := paging.Page(shown, after, limit)
	out := eks.DescribeAddonVersionsOutput{Addons: []eks.AddonInfo{}, NextToken: next}
	for _, i := range infos {
		if slices.Contains(page, i.AddonName) {
			out.Addons = append(out.Addons, i)
		}
	}
	return out, nil
}

// info is one add-on's versions over the minors, newest version first.
func (o *Operations) info(name string, minors []string) eks.AddonInfo {
	info := eks.AddonInfo{AddonName: name, Type: eks.AddonTypeNetworking, AddonVersions: []eks.AddonVersionInfo{},
		Publisher: eks.AddonPublisher, Owner: eks.AddonOwner}
	index := map[string]int{}
	for _, m := range minors {
		for _, v := range addoncatalog.Versions(name, m) {
			i, ok := index[v.Version]
			if !ok {
				i = len(info.AddonVersions)
				index[v.Version] = i
				info.AddonVersions = append(info.AddonVersions, eks.AddonVersionInfo{
					AddonVersion: v.Version, Architecture: []string{"amd64"}, ComputeTypes: []string{"ec2"},
				})
			}
			info.AddonVersions[i].Compatibilities = append(info.AddonVersions[i].Compatibilities,
				eks.Compatibility{ClusterVersion: m, PlatformVersions: []string{o.Platform}, DefaultVersion: v.Default})
		}
	}
	slices.SortFunc(info.AddonVersions, func(a, b eks.AddonVersionInfo) int { return compareVersions(b.AddonVersion, a.AddonVersion) })
	return info
}

// Configuration serves DescribeAddonConfiguration:
// GET /addons/configuration-schemas?addonName=N&addonVersion=V.
func (o *Operations) Configuration(r *http.Request) (any, error) {
	q := r.URL.Query()
	name, v := q.Get("addonName"), q.Get("addonVersion")
	if err := knownAddon(name, "any"); err != nil {
		return nil, err
	}
	if v == "" {
		return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "addonVersion is required.")
	}
	offered := false
	for _, m := range addoncatalog.Minors() {
		_, ok := addoncatalog.Lookup(name, m, v)
		offered = offered || ok
	}
	if !offered {
		return nil, errdefs.Publicf(errdefs.ErrNotFound, "Addon version %s of %s is not offered.", v, name)
	}
	return eks.DescribeAddonConfigurationOutput{AddonName: name, AddonVersion: v, ConfigurationSchema: addoncatalog.Schema(name)}, nil
}

package insights

import (
	"reflect"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
)

// lifecycleReplacement is what k8s.io/api's prerelease-lifecycle-gen gives a
// deprecated type whose types.go names its replacement.
type lifecycleReplacement interface {
	APILifecycleReplacement() schema.GroupVersionKind
}

var (
	replacementsOnce sync.Once
	replacements     map[schema.GroupVersionResource]schema.GroupVersionResource
)

// ReplacementOf returns the path of the API that replaces a, from the
// lifecycle data k8s.io/api compiles into its types (the module this binary
// is built with), "" when that data names none: many removed betas (the
// v1beta1 ServiceCIDR among them) carry no replacement tag, and guessing one
// would be worse than saying nothing.
func ReplacementOf(a API) string {
	replacementsOnce.Do(func() { replacements = replacementTable() })
	r, ok := replacements[schema.GroupVersionResource{Group: a.Group, Version: a.Version, Resource: a.Resource}]
	if !ok {
		return ""
	}
	return API{Group: r.Group, Version: r.Version, Resource: r.Resource}.Path()
}

// replacementTable maps each deprecated resource to its replacement's.
// Resources are guessed from kinds as the API machinery itself does
// (meta.UnsafeGuessKindToResource), which holds for every built-in type.
func replacementTable() map[schema.GroupVersionResource]schema.GroupVersionResource {
	out := map[schema.GroupVersionResource]schema.GroupVersionResource{}
	for gvk, t := range clientgoscheme.Scheme.AllKnownTypes() {
		r, ok := reflect.New(t).Interface().(lifecycleReplacement)
		if !ok {
			continue
		}
		to := r.APILifecycleReplacement()
		if to.Empty() || strings.HasSuffix(gvk.Kind, "List") {
			continue // lists are served by their items' resource
		}
		// Upstream's tag on the v1beta1 IngressClass names IngressClassList.
		to.Kind = strings.TrimSuffix(to.Kind, "List")
		from, _ := meta.UnsafeGuessKindToResource(gvk)
		repl, _ := meta.UnsafeGuessKindToResource(to)
		out[from] = repl
	}
	return out
}

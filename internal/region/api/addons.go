package api

import (
	"net/http"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/region/addons"
)

// addonRoutes registers the managed add-on operations, which package addons
// serves over this server's clusters, at the paths of the EKS model.
func (s *server) addonRoutes(mux *http.ServeMux) {
	const list, one = "/clusters/{name}/addons", "/clusters/{name}/addons/{addonName}"
	mux.HandleFunc("POST "+list, s.handle(s.addons.Create))
	mux.HandleFunc("GET "+list, s.handle(s.addons.List))
	mux.HandleFunc(list, s.methodNotAllowed("GET, POST"))
	mux.HandleFunc("GET "+one, s.handle(s.addons.Describe))
	mux.HandleFunc("DELETE "+one, s.handle(s.addons.Delete))
	mux.HandleFunc(one, s.methodNotAllowed("GET, DELETE"))
	mux.HandleFunc("POST "+one+"/update", s.handle(s.addons.Update))
	mux.HandleFunc(one+"/update", s.methodNotAllowed("POST"))
	mux.HandleFunc("GET /addons/supported-versions", s.handle(s.addons.Versions))
	mux.HandleFunc("/addons/supported-versions", s.methodNotAllowed("GET"))
	mux.HandleFunc("GET /addons/configuration-schemas", s.handle(s.addons.Configuration))
	mux.HandleFunc("/addons/configuration-schemas", s.methodNotAllowed("GET"))
}

// newAddons gives the operations this server's clusters and store.
func (s *server) newAddons() *addons.Operations {
	return &addons.Operations{Clusters: addonClusters{s}, Store: s.store, Region: s.region, Platform: PlatformVersion, InUse: errResourceInUse, Log: s.log}
}

// addonClusters is addons.Clusters over the server.
type addonClusters struct{ s *server }

func (a addonClusters) Cluster(r *http.Request) (*v1alpha1.Cluster, error) {
	return a.s.clusterOfRequest(r)
}

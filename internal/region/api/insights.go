package api

import (
	"net/http"

	"github.com/cellplane/cellplane/internal/region/insights"
)

// insightRoutes registers the upgrade insight operations, which package
// insights serves over this server's clusters (through the node groups'
// adapter, which has the two methods it needs).
func (s *server) insightRoutes(mux *http.ServeMux) {
	ops := &insights.Operations{Clusters: ngClusters{s}, Store: s.store}
	handle := func(op func(*http.Request) (any, error)) http.HandlerFunc { return s.handle(op) }
	ops.Routes(mux, handle, s.methodNotAllowed)
}

package api

import (
	"net/http"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/region/accessentries"
)

// accessRoutes registers the access-entry operations, which package
// accessentries serves over this server's clusters, at the paths of the EKS
// model. Principal and policy ARNs hold slashes: the SDKs escape them as %2F,
// which one path segment matches.
func (s *server) accessRoutes(mux *http.ServeMux) {
	const entries = "/clusters/{name}/access-entries"
	const entry = entries + "/{principalArn}"
	const policies = entry + "/access-policies"
	mux.HandleFunc("POST "+entries, s.handle(s.entries.Create))
	mux.HandleFunc("GET "+entries, s.handle(s.entries.List))
	mux.HandleFunc(entries, s.methodNotAllowed("GET, POST"))
	mux.HandleFunc("GET "+entry, s.handle(s.entries.Describe))
	mux.HandleFunc("POST "+entry, s.handle(s.entries.Update))
	mux.HandleFunc("DELETE "+entry, s.handle(s.entries.Delete))
	mux.HandleFunc(entry, s.methodNotAllowed("GET, POST, DELETE"))
	mux.HandleFunc("POST "+policies, s.handle(s.entries.AssociatePolicy))
	mux.HandleFunc("GET "+policies, s.handle(s.entries.ListAssociatedPolicies))
	mux.HandleFunc(policies, s.methodNotAllowed("GET, POST"))
	mux.HandleFunc("DELETE "+policies+"/{policyArn}", s.handle(s.entries.DisassociatePolicy))
	mux.HandleFunc(policies+"/{policyArn}", s.methodNotAllowed("DELETE"))
	mux.HandleFunc("GET /access-policies", s.handle(s.entries.ListPolicies))
	mux.HandleFunc("/access-policies", s.methodNotAllowed("GET"))
}

// newAccessEntries gives the operations this server's clusters and store;
// nil principals accept every well-formed user or role ARN of the caller's
// account.
func (s *server) newAccessEntries(p accessentries.Principals) *accessentries.Operations {
	return &accessentries.Operations{Clusters: entryClusters{s}, Store: s.store, Principals: p, Region: s.region, InUse: errResourceInUse, Log: s.log}
}

// entryClusters is accessentries.Clusters over the server.
type entryClusters struct{ s *server }

func (a entryClusters) Cluster(r *http.Request) (*v1alpha1.Cluster, error) {
	return a.s.clusterOfRequest(r)
}

func (a entryClusters) Account(r *http.Request) string { return accountFor(r) }

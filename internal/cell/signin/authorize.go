package signin

import (
	"net/http"
	"slices"

	authorizationv1 "k8s.io/api/authorization/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/accesspolicy"
)

// authorize answers a SubjectAccessReview (authorization.k8s.io/v1): allowed
// when one of the user's access policies covers the request in its scope,
// no opinion otherwise (never denied: the tenant's RBAC, for the entry's
// groups, still has its say).
func (s *Server) authorize(w http.ResponseWriter, r *http.Request) {
	c, err := s.caller(r)
	if err != nil {
		s.cfg.Log.Warn("sign-in: refused caller", "path", r.URL.Path, "err", err)
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	var review authorizationv1.SubjectAccessReview
	if !decode(w, r, &review) {
		return
	}
	review.Status = s.decide(r, c, review.Spec)
	reply(w, &review)
}

func (s *Server) decide(r *http.Request, c *v1alpha1.Cluster, spec authorizationv1.SubjectAccessReviewSpec) authorizationv1.SubjectAccessReviewStatus {
	principals := spec.Extra[ExtraPrincipal]
	if len(principals) != 1 {
		return authorizationv1.SubjectAccessReviewStatus{}
	}
	entry, err := s.accessEntry(r, c, principals[0])
	if err != nil || entry == nil {
		return authorizationv1.SubjectAccessReviewStatus{EvaluationError: errString(err)}
	}
	for _, p := range entry.Spec.AccessPolicies {
		if !inScope(p.Scope, spec) {
			continue
		}
		policy, ok := accesspolicy.Lookup(p.PolicyARN)
		if !ok {
			continue
		}
		rules, err := s.cfg.Roles.Rules(r.Context(), c, policy.ClusterRole)
		if err != nil {
			s.cfg.Log.Error("sign-in: reading access policy rules", "cluster", c.Spec.Name, "role", policy.ClusterRole, "err", err)
			continue
		}
		if allows(rules, spec) {
			return authorizationv1.SubjectAccessReviewStatus{Allowed: true, Reason: "access policy " + policy.Name}
		}
	}
	return authorizationv1.SubjectAccessReviewStatus{}
}

// inScope: a cluster scope covers every request; a namespace scope only
// namespaced requests in its namespaces (as a RoleBinding would).
func inScope(scope v1alpha1.AccessScope, spec authorizationv1.SubjectAccessReviewSpec) bool {
	if scope.Type == v1alpha1.AccessScopeCluster {
		return true
	}
	ra := spec.ResourceAttributes
	return scope.Type == v1alpha1.AccessScopeNamespace && ra != nil && ra.Namespace != "" &&
		slices.Contains(scope.Namespaces, ra.Namespace)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

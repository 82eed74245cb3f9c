package signin

import (
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

// allows reports whether one of rules grants the request, with the matching
// rules of Kubernetes RBAC (k8s.io/kubernetes pkg/apis/rbac/v1
// evaluation_helpers.go): "*" wildcards, subresources spelled
// "resource/subresource" or "*/subresource" (not "resource/*", which RBAC does not read as a wildcard), resource names
// only narrowing, and non-resource URLs with a trailing "*" prefix match.
func allows(rules []rbacv1.PolicyRule, spec authorizationv1.SubjectAccessReviewSpec) bool {
	for _, r := range rules {
		if ruleAllows(r, spec) {
			return true
		}
	}
	return false
}

func ruleAllows(r rbacv1.PolicyRule, spec authorizationv1.SubjectAccessReviewSpec) bool {
	if ra := spec.ResourceAttributes; ra != nil {
		return has(r.Verbs, ra.Verb) && has(r.APIGroups, ra.Group) &&
			resourceMatches(r.Resources, ra.Resource, ra.Subresource) &&
			nameMatches(r.ResourceNames, ra.Name)
	}
	if na := spec.NonResourceAttributes; na != nil {
		return has(r.Verbs, na.Verb) && urlMatches(r.NonResourceURLs, na.Path)
	}
	return false
}

// has matches a verb or API group, "*" matching all.
func has(list []string, v string) bool {
	for _, x := range list {
		if x == "*" || x == v {
			return true
		}
	}
	return false
}

func resourceMatches(rules []string, resource, sub string) bool {
	want := resource
	if sub != "" {
		want = resource + "/" + sub
	}
	for _, r := range rules {
		switch {
		case r == "*" || r == want:
			return true
		case sub != "" && r == "*/"+sub:
			return true
		}
	}
	return false
}

// nameMatches: no names in the rule means every name; names in the rule
// never match a request without one (a list or a create).
func nameMatches(rules []string, name string) bool {
	if len(rules) == 0 {
		return true
	}
	for _, r := range rules {
		if r == name {
			return true
		}
	}
	return false
}

func urlMatches(rules []string, path string) bool {
	for _, r := range rules {
		if r == "*" || r == path || (strings.HasSuffix(r, "*") && strings.HasPrefix(path, strings.TrimSuffix(r, "*"))) {
			return true
		}
	}
	return false
}

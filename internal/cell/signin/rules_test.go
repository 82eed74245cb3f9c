package signin

import (
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
)

func res(verb, group, resource, sub, name string) authorizationv1.SubjectAccessReviewSpec {
	return authorizationv1.SubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
		Verb: verb, Group: group, Resource: resource, Subresource: sub, Name: name}}
}

func nonres(verb, path string) authorizationv1.SubjectAccessReviewSpec {
	return authorizationv1.SubjectAccessReviewSpec{NonResourceAttributes: &authorizationv1.NonResourceAttributes{Verb: verb, Path: path}}
}

func TestRuleAllows(t *testing.T) {
	pods := rbacv1.PolicyRule{Verbs: []string{"get", "list"}, APIGroups: []string{""}, Resources: []string{"pods", "pods/log"}}
	scale := rbacv1.PolicyRule{Verbs: []string{"update"}, APIGroups: []string{"apps"}, Resources: []string{"*/scale"}}
	anySub := rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{"apps"}, Resources: []string{"deployments/*"}}
	named := rbacv1.PolicyRule{Verbs: []string{"get", "update"}, APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{"one"}}
	all := rbacv1.PolicyRule{Verbs: []string{"*"}, APIGroups: []string{"*"}, Resources: []string{"*"}}
	urls := rbacv1.PolicyRule{Verbs: []string{"get"}, NonResourceURLs: []string{"/healthz", "/api*"}}
	allURLs := rbacv1.PolicyRule{Verbs: []string{"*"}, NonResourceURLs: []string{"*"}}
	cases := []struct {
		name string
		rule rbacv1.PolicyRule
		spec authorizationv1.SubjectAccessReviewSpec
		want bool
	}{
		{"list pods", pods, res("list", "", "pods", "", ""), true},
		{"create pods", pods, res("create", "", "pods", "", ""), false},
		{"pods in another group", pods, res("get", "apps", "pods", "", ""), false},
		{"pod logs", pods, res("get", "", "pods", "log", "p"), true},
		{"pod exec", pods, res("get", "", "pods", "exec", "p"), false},
		{"subresource not granted by its resource", rbacv1.PolicyRule{Verbs: []string{"get"}, APIGroups: []string{""}, Resources: []string{"pods"}}, res("get", "", "pods", "status", ""), false},
		{"*/scale", scale, res("update", "apps", "deployments", "scale", "d"), true},
		{"*/scale is no resource", scale, res("update", "apps", "deployments", "", "d"), false},
		{"deployments/* is no wildcard", anySub, res("get", "apps", "deployments", "status", "d"), false},
		{"deployments/* is not deployments", anySub, res("get", "apps", "deployments", "", "d"), false},
		{"named", named, res("get", "", "configmaps", "", "one"), true},
		{"other name", named, res("get", "", "configmaps", "", "two"), false},
		{"names do not allow list", named, res("list", "", "configmaps", "", ""), false},
		{"wildcards", all, res("delete", "batch", "jobs", "", "j"), true},
		{"resource rule is no URL rule", all, nonres("get", "/healthz"), false},
		{"exact URL", urls, nonres("get", "/healthz"), true},
		{"URL prefix", urls, nonres("get", "/apis/apps"), true},
		{"URL verb", urls, nonres("post", "/healthz"), false},
		{"URL mismatch", urls, nonres("get", "/metrics"), false},
		{"all URLs", allURLs, nonres("post", "/anything"), true},
		{"URL rule is no resource rule", allURLs, res("get", "", "pods", "", ""), false},
		{"empty review", all, authorizationv1.SubjectAccessReviewSpec{}, false},
	}
	for _, c := range cases {
		if got := ruleAllows(c.rule, c.spec); got != c.want {
			t.Errorf("%s: ruleAllows = %v, want %v", c.name, got, c.want)
		}
	}
}

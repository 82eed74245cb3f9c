package accessentries

import (
	"net/http"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/accesspolicy"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/paging"
)

// AssociatePolicy serves AssociateAccessPolicy: POST
// /clusters/{name}/access-entries/{principalArn}/access-policies. A policy
// associated already gets the new scope, as EKS does.
func (o *Operations) AssociatePolicy(r *http.Request) (any, error) {
	var in eks.AssociateAccessPolicyInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	if _, err := eksinput.Policy(in.PolicyArn); err != nil {
		return nil, err
	}
	scope, err := eksinput.Scope(in.AccessScope)
	if err != nil {
		return nil, err
	}
	c, e, err := o.entryOfRequest(r, true)
	if err != nil {
		return nil, err
	}
	err = o.editEntry(r.Context(), c, e, func(spec *v1alpha1.AccessEntrySpec) bool {
		return associate(spec, in.PolicyArn, scope)
	})
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(e.Spec.AccessPolicies, func(p v1alpha1.AssociatedAccessPolicy) bool { return p.PolicyARN == in.PolicyArn })
	o.Log.Info("associated access policy", "cluster", c.Spec.Name, "principal", e.Spec.PrincipalARN, "policy", in.PolicyArn, "scope", scope.Type)
	return eks.AssociateAccessPolicyOutput{
		ClusterName: c.Spec.Name, PrincipalArn: e.Spec.PrincipalARN,
		AssociatedAccessPolicy: toWirePolicy(e.Spec.AccessPolicies[i]),
	}, nil
}

// associate adds the policy at scope, or moves it there; it reports whether
// anything changed.
func associate(spec *v1alpha1.AccessEntrySpec, policy string, scope v1alpha1.AccessScope) bool {
	now := metav1.Now()
	i := slices.IndexFunc(spec.AccessPolicies, func(p v1alpha1.AssociatedAccessPolicy) bool { return p.PolicyARN == policy })
	if i < 0 {
		spec.AccessPolicies = append(spec.AccessPolicies, v1alpha1.AssociatedAccessPolicy{PolicyARN: policy, Scope: scope, AssociatedAt: now, ModifiedAt: now})
		return true
	}
	old := &spec.AccessPolicies[i]
	if old.Scope.Type == scope.Type && slices.Equal(old.Scope.Namespaces, scope.Namespaces) {
		return false
	}
	old.Scope, old.ModifiedAt = scope, now
	return true
}

// DisassociatePolicy serves DisassociateAccessPolicy: DELETE
// /clusters/{name}/access-entries/{principalArn}/access-policies/{policyArn}.
func (o *Operations) DisassociatePolicy(r *http.Request) (any, error) {
	policy := r.PathValue("policyArn")
	c, e, err := o.entryOfRequest(r, true)
	if err != nil {
		return nil, err
	}
	found := false
	err = o.editEntry(r.Context(), c, e, func(spec *v1alpha1.AccessEntrySpec) bool {
		n := len(spec.AccessPolicies)
		spec.AccessPolicies = slices.DeleteFunc(spec.AccessPolicies, func(p v1alpha1.AssociatedAccessPolicy) bool { return p.PolicyARN == policy })
		found = len(spec.AccessPolicies) < n
		return found
	})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errdefs.Publicf(errdefs.ErrNotFound, "The access policy %s is not associated with the access entry of %s.", policy, e.Spec.PrincipalARN)
	}
	o.Log.Info("disassociated access policy", "cluster", c.Spec.Name, "principal", e.Spec.PrincipalARN, "policy", policy)
	return eks.EmptyOutput{}, nil
}

// ListAssociatedPolicies serves ListAssociatedAccessPolicies: GET
// /clusters/{name}/access-entries/{principalArn}/access-policies, pages cut
// from the policy ARNs in byte order.
func (o *Operations) ListAssociatedPolicies(r *http.Request) (any, error) {
	limit, after, err := pageOf(r)
	if err != nil {
		return nil, err
	}
	c, e, err := o.entryOfRequest(r, false)
	if err != nil {
		return nil, err
	}
	byARN := map[string]v1alpha1.AssociatedAccessPolicy{}
	arns := make([]string, 0, len(e.Spec.AccessPolicies))
	for _, p := range e.Spec.AccessPolicies {
		byARN[p.PolicyARN] = p
		arns = append(arns, p.PolicyARN)
	}
	slices.Sort(arns)
	page, next := paging.Page(arns, after, limit)
	out := eks.ListAssociatedAccessPoliciesOutput{
		ClusterName: c.Spec.Name, PrincipalArn: e.Spec.PrincipalARN,
		AssociatedAccessPolicies: make([]eks.AssociatedAccessPolicy, 0, len(page)), NextToken: next,
	}
	for _, arn := range page {
		out.AssociatedAccessPolicies = append(out.AssociatedAccessPolicies, *toWirePolicy(byARN[arn]))
	}
	return out, nil
}

// ListPolicies serves ListAccessPolicies: GET /access-policies, the
// catalogue in ARN order.
func (o *Operations) ListPolicies(r *http.Request) (any, error) {
	limit, after, err := pageOf(r)
	if err != nil {
		return nil, err
	}
	arns := make([]string, 0, len(accesspolicy.Catalogue))
	for _, p := range accesspolicy.Catalogue {
		arns = append(arns, p.ARN())
	}
	slices.Sort(arns)
	page, next := paging.Page(arns, after, limit)
	out := eks.ListAccessPoliciesOutput{AccessPolicies: make([]eks.AccessPolicy, 0, len(page)), NextToken: next}
	for _, arn := range page {
		out.AccessPolicies = append(out.AccessPolicies, eks.AccessPolicy{Name: strings.TrimPrefix(arn, accesspolicy.ARNPrefix), Arn: arn})
	}
	return out, nil
}

// toWirePolicy renders an associated policy as EKS's AssociatedAccessPolicy.
func toWirePolicy(p v1alpha1.AssociatedAccessPolicy) *eks.AssociatedAccessPolicy {
	return &eks.AssociatedAccessPolicy{
		PolicyArn:    p.PolicyARN,
		AccessScope:  eks.AccessScope{Type: p.Scope.Type, Namespaces: p.Scope.Namespaces},
		AssociatedAt: eks.NewTimestamp(p.AssociatedAt.Time),
		ModifiedAt:   eks.NewTimestamp(p.ModifiedAt.Time),
	}
}

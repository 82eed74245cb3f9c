package bootstrap

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Bindings are the ClusterRoleBindings kubeadm makes at init for TLS
// bootstrap, to roles every API server already has (its bootstrap policy):
// token holders may create CSRs and have client CSRs for themselves approved,
// and nodes may have their renewed client certificates approved. The
// serving-certificate CSRs are another matter: no role approves those (see
// package csrapproval).
func Bindings() []*rbacv1.ClusterRoleBinding {
	return []*rbacv1.ClusterRoleBinding{
		binding("cellplane:kubelet-bootstrap", "system:node-bootstrapper", Group),
		binding("cellplane:node-autoapprove-bootstrap", "system:certificates.k8s.io:certificatesigningrequests:nodeclient", Group),
		binding("cellplane:node-autoapprove-certificate-rotation", "system:certificates.k8s.io:certificatesigningrequests:selfnodeclient", "system:nodes"),
	}
}

func binding(name, role, group string) *rbacv1.ClusterRoleBinding {
	return &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app.kubernetes.io/managed-by": "cellplane"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: group}},
	}
}

// EnsureRBAC creates whichever of Bindings is missing and puts back the
// role and subjects of one that was changed. A cluster needs them only once
// it has nodes that bootstrap, so the node-group controller calls this
// before it hands out the first token, not the cluster's creation.
func EnsureRBAC(ctx context.Context, cs kubernetes.Interface) error {
	api := cs.RbacV1().ClusterRoleBindings()
	for _, want := range Bindings() {
		got, err := api.Get(ctx, want.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if _, err := api.Create(ctx, want, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
				return fmt.Errorf("creating ClusterRoleBinding %s: %w", want.Name, err)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("reading ClusterRoleBinding %s: %w", want.Name, err)
		}
		if got.RoleRef == want.RoleRef && subjectsEqual(got.Subjects, want.Subjects) {
			continue
		}
		// The role of a binding cannot change in place.
		if err := api.Delete(ctx, want.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("replacing ClusterRoleBinding %s: %w", want.Name, err)
		}
		if _, err := api.Create(ctx, want, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("replacing ClusterRoleBinding %s: %w", want.Name, err)
		}
	}
	return nil
}

func subjectsEqual(a, b []rbacv1.Subject) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

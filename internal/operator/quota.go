package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/quota"
)

// ClusterLimit is an account's limit on clusters in the region.
type ClusterLimit struct {
	Account string `json:"account"`
	// MaxClusters is the limit that applies.
	MaxClusters int `json:"maxClusters"`
	// Override is true when the operator set it; false for the default.
	Override bool `json:"override"`
}

// MaxClusters returns the account's limit on clusters.
func (a *Accounts) MaxClusters(ctx context.Context, id string) (ClusterLimit, error) {
	if err := a.mustExist(ctx, id); err != nil {
		return ClusterLimit{}, err
	}
	out := ClusterLimit{Account: id, MaxClusters: quota.DefaultMaxClusters}
	var ns corev1.Namespace
	err := a.region.Get(ctx, client.ObjectKey{Name: v1alpha1.Namespace(id)}, &ns)
	if apierrors.IsNotFound(err) {
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("reading the namespace of account %s: %w", id, err)
	}
	if v := ns.Annotations[v1alpha1.AnnotationMaxClusters]; v != "" {
		n, err := quota.ParseMaxClusters(v)
		if err != nil {
			return out, fmt.Errorf("account %s: %w", id, err)
		}
		out.MaxClusters, out.Override = n, true
	}
	return out, nil
}

// SetMaxClusters sets the account's limit on clusters (0 to 100,000); nil
// returns it to the default. Clusters the account has beyond a lowered limit
// keep running: only new creates are refused.
func (a *Accounts) SetMaxClusters(ctx context.Context, id string, n *int) error {
	if n != nil {
		if _, err := quota.ParseMaxClusters(fmt.Sprint(*n)); err != nil {
			return err
		}
	}
	if err := a.mustExist(ctx, id); err != nil {
		return err
	}
	name := v1alpha1.Namespace(id)
	var value any // JSON null removes the annotation
	if n != nil {
		value = fmt.Sprint(*n)
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]any{v1alpha1.AnnotationMaxClusters: value}}})
	if err != nil {
		return err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	err = a.region.Patch(ctx, ns, client.RawPatch(types.MergePatchType, patch))
	if !apierrors.IsNotFound(err) {
		return wrapf(err, "setting the cluster limit of account %s", id)
	}
	if n == nil {
		return nil // no namespace: the default applies already
	}
	// Before the account's first cluster its namespace does not exist: create
	// it as the regional API would, with the limit on it.
	ns = &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:        name,
		Labels:      map[string]string{v1alpha1.LabelAccount: id},
		Annotations: map[string]string{v1alpha1.AnnotationMaxClusters: fmt.Sprint(*n)},
	}}
	err = a.region.Create(ctx, ns)
	if apierrors.IsAlreadyExists(err) {
		return a.SetMaxClusters(ctx, id, n) // created by a cluster in between: patch it
	}
	return wrapf(err, "setting the cluster limit of account %s", id)
}

func (a *Accounts) mustExist(ctx context.Context, id string) error {
	accts, err := a.store.ListAccounts(ctx)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(accts, func(x account.Account) bool { return x.ID == id }) {
		return fmt.Errorf("%w: no account %q ('cellplane account list' shows them)", errdefs.ErrNotFound, id)
	}
	return nil
}

func wrapf(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), err)
}

package agent

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/cellplane/cellplane/internal/signingkeys"
)

// SigningKeys mirrors the sts signing keys the region publishes (package
// signingkeys) into the cell's store, where the cell's sign-in server reads
// them: a key the region withdraws is withdrawn here as soon as the watch
// says so, and while the region is away the cell keeps what it last saw.
type SigningKeys struct {
	// Region is a view of the region store that caches only the signing
	// keys' Secrets (SigningKeysCache), never the accounts' sealed keys.
	Region cluster.Cluster
	Cell   client.Client
}

// SigningKeysCache restricts a region cluster's cache of Secrets to the
// signing keys; pass it to cluster.New.
func SigningKeysCache(o *cluster.Options) {
	o.Cache.ByObject = map[client.Object]cache.ByObject{&corev1.Secret{}: {
		Label:      labels.SelectorFromSet(signingkeys.Selector()),
		Namespaces: map[string]cache.Config{signingkeys.Namespace: {}},
	}}
}

// SetupWithManager registers the mirror on the cell's manager.
func (s *SigningKeys) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		Named("signingkeys").
		WatchesRawSource(source.Kind(s.Region.GetCache(), &corev1.Secret{}, &handler.TypedEnqueueRequestForObject[*corev1.Secret]{})).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(cellSigningKey)).
		Complete(s)
}

// cellSigningKey enqueues the cell's copies, so one whose original vanished
// while the cell was away is removed once the region is seen again.
func cellSigningKey(_ context.Context, o client.Object) []ctrl.Request {
	if o.GetNamespace() != signingkeys.Namespace || o.GetLabels()[signingkeys.LabelKind] != signingkeys.KindValue {
		return nil
	}
	return []ctrl.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}}}
}

// Reconcile makes the cell's copy of one key's Secret match the region's.
func (s *SigningKeys) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	src := &corev1.Secret{}
	err := s.Region.GetClient().Get(ctx, req.NamespacedName, src)
	dst := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: req.Namespace, Name: req.Name}}
	if apierrors.IsNotFound(err) {
		if err := s.Cell.Delete(ctx, dst); client.IgnoreNotFound(err) != nil {
			return ctrl.Result{}, fmt.Errorf("withdrawing signing keys %s: %w", req.Name, err)
		}
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("reading region signing keys %s: %w", req.Name, err)
	}
	if err := ensureNamespace(ctx, s.Cell, req.Namespace); err != nil {
		return ctrl.Result{}, err
	}
	_, err = controllerutil.CreateOrPatch(ctx, s.Cell, dst, func() error {
		dst.Labels, dst.Data = src.Labels, src.Data
		return nil
	})
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("mirroring signing keys %s: %w", req.Name, err)
	}
	return ctrl.Result{}, nil
}

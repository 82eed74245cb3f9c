package store

import (
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// Scheme is what a management store holds: Kubernetes' built-in kinds
// (namespaces, secrets) and cellplane's resources.
func Scheme() (*runtime.Scheme, error) {
	sc := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(sc); err != nil {
		return nil, err
	}
	return sc, v1alpha1.AddToScheme(sc)
}

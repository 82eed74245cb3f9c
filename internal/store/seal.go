package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/cellplane/cellplane/internal/pki"
)

// sealedMarker records that every Secret in the store has been rewritten
// since the API server started encrypting them, so it is done once per store.
const sealedMarker = "secrets-sealed"

// sealSecrets rewrites every Secret once, so those written before encryption
// at rest was on (by an earlier cellplane) are stored sealed too. The API
// server writes an unchanged Secret back when it was read with a provider
// other than the first (identity), which is what seals it. Interrupted, it
// starts over at the next start: rewriting a sealed Secret is harmless.
func sealSecrets(ctx context.Context, cfg *rest.Config, pkiDir string) error {
	marker := filepath.Join(pkiDir, sealedMarker)
	if _, err := os.Stat(marker); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("checking %s: %w", marker, err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("building a client to seal Secrets: %w", err)
	}
	secrets := cs.CoreV1().Secrets(metav1.NamespaceAll)
	opts := metav1.ListOptions{Limit: 500}
	for {
		list, err := secrets.List(ctx, opts)
		if err != nil {
			return fmt.Errorf("listing Secrets to seal them: %w", err)
		}
		for i := range list.Items {
			sec := &list.Items[i]
			_, err := cs.CoreV1().Secrets(sec.Namespace).Update(ctx, sec, metav1.UpdateOptions{})
			// Changed or deleted since the list: its writer sealed it.
			if err != nil && !apierrors.IsConflict(err) && !apierrors.IsNotFound(err) {
				return fmt.Errorf("sealing Secret %s/%s: %w", sec.Namespace, sec.Name, err)
			}
		}
		if opts.Continue = list.Continue; opts.Continue == "" {
			break
		}
	}
	return pki.WriteFileAtomic(marker, []byte("every Secret rewritten under encryption at rest\n"), 0o600)
}

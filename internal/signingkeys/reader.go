package signingkeys

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/internal/ekstoken"
)

// Reader finds published signing keys for the token verifier
// (ekstoken.KeySource). In a cell it reads a cache of the cell's store.
type Reader struct {
	Client client.Reader
}

// SigningKey returns the key of akid for day and who the key signs for.
// A key that is not published, or not for that day, wraps
// ekstoken.ErrUnknownKey: the region withdraws a key's signing keys the
// moment it is deactivated or deleted.
func (r Reader) SigningKey(akid, day string) (ekstoken.Identity, []byte, error) {
	var s corev1.Secret
	err := r.Client.Get(context.Background(), client.ObjectKey{Namespace: Namespace, Name: Name(akid)}, &s)
	if apierrors.IsNotFound(err) {
		return ekstoken.Identity{}, nil, fmt.Errorf("%w: %s has no published signing keys", ekstoken.ErrUnknownKey, akid)
	}
	if err != nil {
		return ekstoken.Identity{}, nil, fmt.Errorf("reading signing keys of %s: %w", akid, err)
	}
	k := FromSecret(&s)
	key, ok := k.Days[day]
	if !ok || k.AccessKeyID != akid || s.Labels[LabelKind] != KindValue {
		return ekstoken.Identity{}, nil, fmt.Errorf("%w: %s has no signing key for %s", ekstoken.ErrUnknownKey, akid, day)
	}
	return ekstoken.Identity{Account: k.Account, PrincipalARN: k.Principal, ARN: k.Principal}, key, nil
}

package account

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// The lifecycle of an account's access keys: list, activate, deactivate and
// delete. Every call names the account and the key, and a key of another
// account is reported as not found, so a typo in one cannot touch another
// account's keys. Rotation composes these (see the operator package).

// ListAccessKeys returns the account's keys, oldest first, without secrets.
func (s *Store) ListAccessKeys(ctx context.Context, accountID string) ([]AccessKey, error) {
	if err := validateID(accountID); err != nil {
		return nil, err
	}
	var list corev1.SecretList
	err := s.Client.List(ctx, &list, client.InNamespace(Namespace),
		client.MatchingLabels{LabelKind: kindKey, LabelAccount: accountID})
	if err != nil {
		return nil, fmt.Errorf("listing access keys of account %s: %w", accountID, err)
	}
	keys := make([]AccessKey, 0, len(list.Items))
	for i := range list.Items {
		keys = append(keys, keyFromSecret(&list.Items[i]))
	}
	sort.Slice(keys, func(i, j int) bool {
		if !keys[i].CreatedAt.Equal(keys[j].CreatedAt) {
			return keys[i].CreatedAt.Before(keys[j].CreatedAt)
		}
		return keys[i].AccessKeyID < keys[j].AccessKeyID
	})
	return keys, nil
}

// GetAccessKey returns one key of the account, without its secret.
func (s *Store) GetAccessKey(ctx context.Context, accountID, akid string) (AccessKey, error) {
	secret, err := s.getKey(ctx, accountID, akid)
	if err != nil {
		return AccessKey{}, err
	}
	return keyFromSecret(secret), nil
}

// SetAccessKeyStatus activates or deactivates a key. The change is one write
// of the key's object; every regional API refuses a deactivated key as soon
// as its watch of the keys sees that write.
func (s *Store) SetAccessKeyStatus(ctx context.Context, accountID, akid string, status KeyStatus) (AccessKey, error) {
	if status != KeyActive && status != KeyInactive {
		return AccessKey{}, fmt.Errorf("%w: access key status %q must be %s or %s", errdefs.ErrInvalidParameter, status, KeyActive, KeyInactive)
	}
	secret, err := s.getKey(ctx, accountID, akid)
	if err != nil {
		return AccessKey{}, err
	}
	if KeyStatus(secret.Data["status"]) != status {
		secret.Data["status"] = []byte(status)
		if err := s.Client.Update(ctx, secret); err != nil {
			return AccessKey{}, fmt.Errorf("setting access key %s %s: %w", akid, status, err)
		}
	}
	return keyFromSecret(secret), nil
}

// DeleteAccessKey deletes a key for good; its secret cannot be recovered.
func (s *Store) DeleteAccessKey(ctx context.Context, accountID, akid string) error {
	secret, err := s.getKey(ctx, accountID, akid)
	if err != nil {
		return err
	}
	return s.delete(ctx, secret.Name)
}

// getKey reads a key's object after validating both IDs; a key of another
// account is not found.
func (s *Store) getKey(ctx context.Context, accountID, akid string) (*corev1.Secret, error) {
	if err := validateID(accountID); err != nil {
		return nil, err
	}
	if err := validateAccessKeyID(akid); err != nil {
		return nil, err
	}
	var secret corev1.Secret
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: accessKeyName(akid)}, &secret)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("access key %s of account %s: %w", akid, accountID, errdefs.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("getting access key %s: %w", akid, err)
	}
	if checkKind(&secret, kindKey) != nil || string(secret.Data["account"]) != accountID {
		return nil, fmt.Errorf("access key %s of account %s: %w", akid, accountID, errdefs.ErrNotFound)
	}
	if secret.Data == nil {
		secret.Data = map[string][]byte{}
	}
	return &secret, nil
}

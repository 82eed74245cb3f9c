package iam

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// ErrAccessDenied: the caller may not assume the role (it is not trusted, is
// of another account, or the role does not exist: the answer does not say
// which, as STS's does not).
var ErrAccessDenied = errors.New("access denied")

// MaxTrustedPrincipals bounds a role's trust list.
const MaxTrustedPrincipals = 100

// Store keeps the accounts' users and roles in the region store. Accounts
// is the account store the users' access keys live in.
type Store struct {
	Client   account.Objects
	Accounts *account.Store
}

// get reads the principal of kind and name; one of another account, or an
// object that is not a principal, is not found.
func (s *Store) get(ctx context.Context, accountID string, kind Kind, name string) (record, error) {
	var cm corev1.ConfigMap
	key := client.ObjectKey{Namespace: account.Namespace, Name: objectName(accountID, kind, name)}
	err := s.Client.Get(ctx, key, &cm)
	if apierrors.IsNotFound(err) {
		return record{}, fmt.Errorf("%s %s of account %s: %w", kind, name, accountID, errdefs.ErrNotFound)
	}
	if err != nil {
		return record{}, fmt.Errorf("getting %s %s: %w", kind, name, err)
	}
	r, err := recordOf(&cm, kind)
	if err != nil || r.Account != accountID || !strings.EqualFold(r.Name, name) {
		return record{}, fmt.Errorf("%s %s of account %s: %w", kind, name, accountID, errdefs.ErrNotFound)
	}
	return r, nil
}

func (s *Store) list(ctx context.Context, accountID string, kind Kind) ([]record, error) {
	var list corev1.ConfigMapList
	err := s.Client.List(ctx, &list, client.InNamespace(account.Namespace),
		client.MatchingLabels{account.LabelKind: labelOf(kind), account.LabelAccount: accountID})
	if err != nil {
		return nil, fmt.Errorf("listing %ss of account %s: %w", kind, accountID, err)
	}
	out := make([]record, 0, len(list.Items))
	for i := range list.Items {
		r, err := recordOf(&list.Items[i], kind)
		if err != nil || r.Account != accountID {
			continue
		}
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name) })
	return out, nil
}

// create writes a new principal with a fresh unique ID.
func (s *Store) create(ctx context.Context, r record) (record, error) {
	id, err := newID(r.Kind)
	if err != nil {
		return record{}, err
	}
	r.ID, r.CreatedAt = id, time.Now().UTC().Truncate(time.Second)
	cm, err := r.configMap()
	if err != nil {
		return record{}, err
	}
	if err := s.ensureNamespace(ctx); err != nil {
		return record{}, err
	}
	err = s.Client.Create(ctx, cm)
	if apierrors.IsAlreadyExists(err) {
		return record{}, fmt.Errorf("creating %s %s: %w", r.Kind, r.Name, errdefs.ErrAlreadyExists)
	}
	if err != nil {
		return record{}, fmt.Errorf("creating %s %s: %w", r.Kind, r.Name, err)
	}
	return r, nil
}

func (s *Store) remove(ctx context.Context, r record) error {
	obj := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: account.Namespace, Name: objectName(r.Account, r.Kind, r.Name)}}
	if err := s.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting %s %s: %w", r.Kind, r.Name, err)
	}
	return nil
}

// checkAccount fails with errdefs.ErrNotFound for an account that does not
// exist, so nothing is written for it.
func (s *Store) checkAccount(ctx context.Context, accountID string) error {
	if err := validateAccount(accountID); err != nil {
		return err
	}
	_, err := s.Accounts.GetAccount(ctx, accountID)
	return err
}

func (s *Store) ensureNamespace(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: account.Namespace}}
	if err := s.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", account.Namespace, err)
	}
	return nil
}

// DeleteAccount deletes the account's roles, users and access keys, then the
// account. Principals go first so that an interrupted delete leaves at worst
// an account without principals, which calling it again finishes; the admin
// user of an account that survives is made again on its next use.
func (s *Store) DeleteAccount(ctx context.Context, accountID string) error {
	if err := s.checkAccount(ctx, accountID); err != nil {
		return err
	}
	for _, kind := range []Kind{KindRole, KindUser} {
		records, err := s.list(ctx, accountID, kind)
		if err != nil {
			return err
		}
		for _, r := range records {
			if err := s.remove(ctx, r); err != nil {
				return err
			}
		}
	}
	return s.Accounts.DeleteAccount(ctx, accountID)
}

package account

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/sigv4"
)

// Store keeps accounts and access keys as Secrets in Namespace, the key secrets
// sealed under Key (MasterKeySize bytes, see LoadOrCreateMasterKey).
type Store struct {
	Client Objects
	Key    []byte
}

var _ sigv4.KeyStore = (*Store)(nil)

// idAttempts bounds retries when a random account ID is taken; with 10^12 IDs a
// second collision in a row means something else is wrong.
const idAttempts = 5

// CreateAccount creates an account with a random ID and its first access key.
// The key's secret is in the returned AccessKey and nowhere else.
func (s *Store) CreateAccount(ctx context.Context, name string) (Account, AccessKey, error) {
	if err := s.validate(name); err != nil {
		return Account{}, AccessKey{}, err
	}
	for range idAttempts {
		id, err := newAccountID()
		if err != nil {
			return Account{}, AccessKey{}, err
		}
		a, k, err := s.create(ctx, id, name)
		if !errors.Is(err, errdefs.ErrAlreadyExists) {
			return a, k, err
		}
	}
	return Account{}, AccessKey{}, fmt.Errorf("creating account: no free ID after %d attempts", idAttempts)
}

// EnsureAccount creates the account id if it does not exist, with its first
// access key; `cellplane up` uses it for the fixed first account. The key is nil
// when the account existed already (its secret cannot be shown again).
func (s *Store) EnsureAccount(ctx context.Context, id, name string) (Account, *AccessKey, error) {
	if err := validateID(id); err != nil {
		return Account{}, nil, err
	}
	if err := s.validate(name); err != nil {
		return Account{}, nil, err
	}
	a, err := s.getAccount(ctx, id)
	if err == nil {
		return a, nil, nil
	}
	if !errors.Is(err, errdefs.ErrNotFound) {
		return Account{}, nil, err
	}
	a, k, err := s.create(ctx, id, name)
	if errors.Is(err, errdefs.ErrAlreadyExists) {
		// Lost a race with another creator: theirs holds the key.
		a, err = s.getAccount(ctx, id)
		return a, nil, err
	}
	if err != nil {
		return Account{}, nil, err
	}
	return a, &k, nil
}

// GetAccount returns one account.
func (s *Store) GetAccount(ctx context.Context, id string) (Account, error) {
	if err := validateID(id); err != nil {
		return Account{}, err
	}
	return s.getAccount(ctx, id)
}

// ListAccounts returns every account, by ID.
func (s *Store) ListAccounts(ctx context.Context) ([]Account, error) {
	var list corev1.SecretList
	if err := s.Client.List(ctx, &list, client.InNamespace(Namespace), client.MatchingLabels{LabelKind: kindAccount}); err != nil {
		return nil, fmt.Errorf("listing accounts: %w", err)
	}
	accounts := make([]Account, 0, len(list.Items))
	for i := range list.Items {
		accounts = append(accounts, accountFromSecret(&list.Items[i]))
	}
	sort.Slice(accounts, func(i, j int) bool { return accounts[i].ID < accounts[j].ID })
	return accounts, nil
}

// DeleteAccount deletes the account and all its access keys. Keys go first, so
// an interrupted delete leaves an account without keys, never keys without an
// account; calling it again finishes the job.
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	if err := validateID(id); err != nil {
		return err
	}
	if _, err := s.getAccount(ctx, id); err != nil {
		return err
	}
	if err := s.deleteKeys(ctx, id); err != nil {
		return err
	}
	return s.delete(ctx, accountName(id))
}

// CreateAccessKey adds an access key of the admin user to an existing account.
func (s *Store) CreateAccessKey(ctx context.Context, accountID string) (AccessKey, error) {
	return s.CreateAccessKeyFor(ctx, accountID, AdminUserARN(accountID))
}

// CreateAccessKeyFor adds an access key that signs for principal, a user ARN
// of the account, to an existing account. The caller (internal/iam) has
// checked that the user exists; this checks the ARN names the account.
func (s *Store) CreateAccessKeyFor(ctx context.Context, accountID, principal string) (AccessKey, error) {
	if err := validateID(accountID); err != nil {
		return AccessKey{}, err
	}
	prefix := UserARN(accountID, "")
	if len(principal) <= len(prefix) || principal[:len(prefix)] != prefix {
		return AccessKey{}, fmt.Errorf("%w: principal %q is not a user of account %s", errdefs.ErrInvalidParameter, principal, accountID)
	}
	if err := s.checkKey(); err != nil {
		return AccessKey{}, err
	}
	if _, err := s.getAccount(ctx, accountID); err != nil {
		return AccessKey{}, err
	}
	keys, err := s.ListAccessKeys(ctx, accountID)
	if err != nil {
		return AccessKey{}, err
	}
	held := 0
	for _, k := range keys {
		if k.Principal == principal {
			held++
		}
	}
	if held >= MaxKeysPerUser {
		return AccessKey{}, fmt.Errorf("%w: %s has %d access keys, the most it may have; delete one first",
			errdefs.ErrLimitExceeded, principal, held)
	}
	return s.createKey(ctx, accountID, principal)
}

// Lookup implements sigv4.KeyStore: it decrypts the secret of akid. Unknown or
// malformed IDs wrap sigv4.ErrUnknownKey; a secret sealed under another master
// key wraps ErrDecrypt.
func (s *Store) Lookup(ctx context.Context, akid string) (sigv4.Credentials, error) {
	if !akidPattern.MatchString(akid) {
		return sigv4.Credentials{}, fmt.Errorf("looking up access key %q: %w", akid, sigv4.ErrUnknownKey)
	}
	var secret corev1.Secret
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: accessKeyName(akid)}, &secret)
	if apierrors.IsNotFound(err) {
		return sigv4.Credentials{}, fmt.Errorf("looking up access key %q: %w", akid, sigv4.ErrUnknownKey)
	}
	if err != nil {
		return sigv4.Credentials{}, fmt.Errorf("looking up access key %q: %w", akid, err)
	}
	if err := checkKind(&secret, kindKey); err != nil {
		return sigv4.Credentials{}, fmt.Errorf("looking up access key %q: %w: %w", akid, sigv4.ErrUnknownKey, err)
	}
	key := keyFromSecret(&secret)
	if key.Status != KeyActive {
		return sigv4.Credentials{}, fmt.Errorf("access key %s is %s: %w", akid, key.Status, sigv4.ErrUnknownKey)
	}
	if err := s.checkOwner(ctx, key); err != nil {
		return sigv4.Credentials{}, err
	}
	plain, err := unseal(s.Key, akid, secret.Data["ciphertext"], secret.Data["nonce"])
	if err != nil {
		return sigv4.Credentials{}, fmt.Errorf("looking up access key: %w", err)
	}
	return sigv4.Credentials{AccessKeyID: akid, SecretAccessKey: plain, Account: key.Account, Principal: key.Principal}, nil
}

// checkOwner refuses a key whose account does not exist (a key left behind
// by an interrupted account delete, or written by hand): such a key must
// never act for anyone.
func (s *Store) checkOwner(ctx context.Context, key AccessKey) error {
	if validateID(key.Account) != nil {
		return fmt.Errorf("access key %s names no valid account: %w", key.AccessKeyID, sigv4.ErrUnknownKey)
	}
	_, err := s.getAccount(ctx, key.Account)
	if errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("access key %s belongs to no account: %w", key.AccessKeyID, sigv4.ErrUnknownKey)
	}
	return err
}

// validate checks the name and the master key before anything is written, so
// bad input leaves no objects behind.
func (s *Store) validate(name string) error {
	if err := validateName(name); err != nil {
		return err
	}
	return s.checkKey()
}

func (s *Store) checkKey() error {
	if len(s.Key) != MasterKeySize {
		return fmt.Errorf("account store: master key has %d bytes; want %d", len(s.Key), MasterKeySize)
	}
	return nil
}

// create writes the account and its first key, removing the account again if
// the key cannot be written: an account nobody can sign for is useless.
func (s *Store) create(ctx context.Context, id, name string) (Account, AccessKey, error) {
	if err := s.ensureNamespace(ctx); err != nil {
		return Account{}, AccessKey{}, err
	}
	a := Account{ID: id, Name: name, CreatedAt: now()}
	if err := s.Client.Create(ctx, accountSecret(a)); err != nil {
		return Account{}, AccessKey{}, createErr("account "+id, err)
	}
	k, err := s.createKey(ctx, id, AdminUserARN(id))
	if err != nil {
		_ = s.delete(ctx, accountName(id))
		return Account{}, AccessKey{}, err
	}
	return a, k, nil
}

func (s *Store) createKey(ctx context.Context, accountID, principal string) (AccessKey, error) {
	akid, err := newAccessKeyID()
	if err != nil {
		return AccessKey{}, err
	}
	secret, err := newSecret()
	if err != nil {
		return AccessKey{}, err
	}
	ciphertext, nonce, err := seal(s.Key, akid, secret)
	if err != nil {
		return AccessKey{}, fmt.Errorf("sealing access key: %w", err)
	}
	k := AccessKey{AccessKeyID: akid, SecretAccessKey: secret, Account: accountID, Principal: principal, Status: KeyActive, CreatedAt: now()}
	if err := s.Client.Create(ctx, keySecret(k, ciphertext, nonce)); err != nil {
		return AccessKey{}, createErr("access key", err)
	}
	return k, nil
}

func (s *Store) getAccount(ctx context.Context, id string) (Account, error) {
	var secret corev1.Secret
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: Namespace, Name: accountName(id)}, &secret)
	if apierrors.IsNotFound(err) {
		return Account{}, fmt.Errorf("account %s: %w", id, errdefs.ErrNotFound)
	}
	if err != nil {
		return Account{}, fmt.Errorf("getting account %s: %w", id, err)
	}
	if err := checkKind(&secret, kindAccount); err != nil {
		return Account{}, fmt.Errorf("account %s: %w: %w", id, errdefs.ErrNotFound, err)
	}
	return accountFromSecret(&secret), nil
}

func (s *Store) deleteKeys(ctx context.Context, accountID string) error {
	var list corev1.SecretList
	err := s.Client.List(ctx, &list, client.InNamespace(Namespace),
		client.MatchingLabels{LabelKind: kindKey, LabelAccount: accountID})
	if err != nil {
		return fmt.Errorf("listing access keys of account %s: %w", accountID, err)
	}
	for i := range list.Items {
		if err := s.delete(ctx, list.Items[i].Name); err != nil {
			return err
		}
	}
	return nil
}

// delete removes one Secret; one already gone counts as deleted.
func (s *Store) delete(ctx context.Context, name string) error {
	obj := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: name}}
	if err := s.Client.Delete(ctx, obj); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("deleting %s: %w", name, err)
	}
	return nil
}

func (s *Store) ensureNamespace(ctx context.Context) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
	if err := s.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", Namespace, err)
	}
	return nil
}

func createErr(what string, err error) error {
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %s: %w", what, errdefs.ErrAlreadyExists)
	}
	return fmt.Errorf("creating %s: %w", what, err)
}

// now is truncated to seconds because createdAt is stored as RFC 3339.
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }

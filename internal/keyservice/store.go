package keyservice

import (
	"context"
	"crypto/rand"
	"fmt"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// MaxKeysPerAccount bounds the keys an account may hold, so that one tenant
// cannot fill the region store with them.
const MaxKeysPerAccount = 100

// MaxDescription is the longest key description AWS KMS takes.
const MaxDescription = 8192

// Store keeps customer keys as KMSKey objects in their account's namespace
// of the region store.
type Store struct {
	Client client.Client
	// Region names the region in key ARNs.
	Region string
}

// Key is a customer key as the key service shows it.
type Key struct {
	v1alpha1.KMSKey
	Account string
	ARN     string
}

func (s *Store) key(account string, k *v1alpha1.KMSKey) *Key {
	return &Key{KMSKey: *k, Account: account, ARN: ARN(s.Region, account, k.Spec.KeyID)}
}

// Create makes an enabled key for account.
func (s *Store) Create(ctx context.Context, account, description string) (*Key, error) {
	if len(description) > MaxDescription {
		return nil, fmt.Errorf("%w: Description must be at most %d characters", ErrValidation, MaxDescription)
	}
	keys, err := s.List(ctx, account)
	if err != nil {
		return nil, err
	}
	if len(keys) >= MaxKeysPerAccount {
		return nil, fmt.Errorf("%w: the account holds %d keys, the most it may", ErrLimitExceeded, len(keys))
	}
	if err := s.ensureNamespace(ctx, account); err != nil {
		return nil, err
	}
	id := newUUID()
	k := &v1alpha1.KMSKey{
		ObjectMeta: metav1.ObjectMeta{Namespace: v1alpha1.Namespace(account), Name: id,
			Labels: map[string]string{v1alpha1.LabelAccount: account}},
		Spec: v1alpha1.KMSKeySpec{KeyID: id, Description: description, State: v1alpha1.KeyStateEnabled, Generation: 1},
	}
	if err := s.Client.Create(ctx, k); err != nil {
		return nil, fmt.Errorf("storing key: %w", err)
	}
	return s.key(account, k), nil
}

func (s *Store) ensureNamespace(ctx context.Context, account string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: v1alpha1.Namespace(account),
		Labels: map[string]string{v1alpha1.LabelAccount: account}}}
	if err := s.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", ns.Name, err)
	}
	return nil
}

// Get returns account's key named by ref, a key ID or ARN.
func (s *Store) Get(ctx context.Context, account, ref string) (*Key, error) {
	id, err := parseRef(s.Region, account, ref)
	if err != nil {
		return nil, err
	}
	return s.get(ctx, account, id, ref)
}

func (s *Store) get(ctx context.Context, account, id, ref string) (*Key, error) {
	var k v1alpha1.KMSKey
	err := s.Client.Get(ctx, client.ObjectKey{Namespace: v1alpha1.Namespace(account), Name: id}, &k)
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("%w: key '%s' does not exist", ErrNotFound, ref)
	}
	if err != nil {
		return nil, fmt.Errorf("reading key %s: %w", id, err)
	}
	return s.key(account, &k), nil
}

// List returns account's keys, by ID.
func (s *Store) List(ctx context.Context, account string) ([]Key, error) {
	var list v1alpha1.KMSKeyList
	if err := s.Client.List(ctx, &list, client.InNamespace(v1alpha1.Namespace(account))); err != nil {
		return nil, fmt.Errorf("listing keys: %w", err)
	}
	out := make([]Key, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, *s.key(account, &list.Items[i]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Spec.KeyID < out[j].Spec.KeyID })
	return out, nil
}

// SetState enables or disables account's key ref; setting the state it has
// changes nothing and is no error, as in AWS KMS.
func (s *Store) SetState(ctx context.Context, account, ref, state string) (*Key, error) {
	return s.change(ctx, account, ref, func(k *v1alpha1.KMSKey) error {
		k.Spec.State = state
		return nil
	})
}

// Rotate gives account's enabled key ref a new generation.
func (s *Store) Rotate(ctx context.Context, account, ref string) (*Key, error) {
	return s.change(ctx, account, ref, func(k *v1alpha1.KMSKey) error {
		if k.Spec.State != v1alpha1.KeyStateEnabled {
			return fmt.Errorf("%w: %s is %s", ErrDisabled, ARN(s.Region, account, k.Spec.KeyID), k.Spec.State)
		}
		k.Spec.Generation++
		k.Spec.Rotations = append(k.Spec.Rotations, v1alpha1.KeyRotation{Generation: k.Spec.Generation, RotatedAt: metav1.NewTime(time.Now().UTC())})
		return nil
	})
}

// change applies f to the stored key, again on a conflict.
func (s *Store) change(ctx context.Context, account, ref string, f func(*v1alpha1.KMSKey) error) (*Key, error) {
	id, err := parseRef(s.Region, account, ref)
	if err != nil {
		return nil, err
	}
	var out *Key
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		k, err := s.get(ctx, account, id, ref)
		if err != nil {
			return err
		}
		before := k.Spec.DeepCopy()
		if err := f(&k.KMSKey); err != nil {
			return err
		}
		out = k
		if before.State == k.Spec.State && before.Generation == k.Spec.Generation {
			return nil
		}
		return s.Client.Update(ctx, &k.KMSKey)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Resolve is what a cluster of account bound to keyARN copies from the key:
// the key must be named by its full ARN (as EKS requires), be account's, in
// this region, and be enabled.
func (s *Store) Resolve(ctx context.Context, account, keyARN string) (v1alpha1.EncryptionSpec, error) {
	if uuidPattern.MatchString(keyARN) {
		return v1alpha1.EncryptionSpec{}, fmt.Errorf("%w: name the key by its ARN (arn:aws:kms:%s:%s:key/%s)", ErrValidation, s.Region, account, keyARN)
	}
	k, err := s.Get(ctx, account, keyARN)
	if err != nil {
		return v1alpha1.EncryptionSpec{}, err
	}
	if k.Spec.State != v1alpha1.KeyStateEnabled {
		return v1alpha1.EncryptionSpec{}, fmt.Errorf("%w: %s is %s", ErrDisabled, k.ARN, k.Spec.State)
	}
	return SpecOf(k), nil
}

// SpecOf is what a cluster bound to k holds of it.
func SpecOf(k *Key) v1alpha1.EncryptionSpec {
	return v1alpha1.EncryptionSpec{KeyARN: k.ARN, KeyID: k.Spec.KeyID, KeyState: k.Spec.State, KeyGeneration: k.Spec.Generation}
}

// newUUID returns a random (version 4) UUID.
func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b) // never fails: crypto/rand crashes the program rather than return weak bytes
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

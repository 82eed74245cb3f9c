package keyservice

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// DefaultResyncInterval is how often Binder.Run compares every key with its
// clusters: the bound on how long a change interrupted between storing the
// key and copying it into the clusters takes to reach them.
const DefaultResyncInterval = 15 * time.Second

// Binder copies each key's state and generation into the spec of every
// cluster bound to it, where the cluster's cell reads them. The key is stored
// first and copied after, so the key is always the truth: a copy lost to a
// crash in between is made by the next call or resync.
type Binder struct {
	Client client.Client
	Keys   *Store
	Logger *slog.Logger
}

// Bind copies k into its account's clusters bound to it.
func (b *Binder) Bind(ctx context.Context, k *Key) error {
	return b.bindAccount(ctx, k.Account, []*Key{k})
}

// bindAccount copies keys, all of account, into the account's clusters
// bound to them, listing the clusters once.
func (b *Binder) bindAccount(ctx context.Context, account string, keys []*Key) error {
	var list v1alpha1.ClusterList
	if err := b.Client.List(ctx, &list, client.InNamespace(v1alpha1.Namespace(account))); err != nil {
		return fmt.Errorf("listing the clusters of account %s: %w", account, err)
	}
	var errs []error
	for _, k := range keys {
		want := SpecOf(k)
		for i := range list.Items {
			c := &list.Items[i]
			if !bound(c, k.Spec.KeyID) || *c.Spec.Encryption == want {
				continue
			}
			errs = append(errs, b.copyInto(ctx, client.ObjectKeyFromObject(c), want))
		}
	}
	return errors.Join(errs...)
}

func bound(c *v1alpha1.Cluster, keyID string) bool {
	return c.Spec.Encryption != nil && c.Spec.Encryption.KeyID == keyID && c.DeletionTimestamp.IsZero()
}

// copyInto stores want as the cluster's key, read again on a conflict: the
// cell's agent moves clusters' status all the time.
func (b *Binder) copyInto(ctx context.Context, key client.ObjectKey, want v1alpha1.EncryptionSpec) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var c v1alpha1.Cluster
		if err := b.Client.Get(ctx, key, &c); err != nil {
			return err
		}
		if !bound(&c, want.KeyID) || *c.Spec.Encryption == want {
			return nil
		}
		c.Spec.Encryption = &want
		return b.Client.Update(ctx, &c)
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("copying key %s into cluster %s: %w", want.KeyID, key.Name, err)
	}
	b.Logger.Info("copied the key into its cluster", "cluster", key.Name, "namespace", key.Namespace,
		"key", want.KeyID, "state", want.KeyState, "generation", want.KeyGeneration)
	return nil
}

// Resync binds every key of every account once.
func (b *Binder) Resync(ctx context.Context) error {
	var list v1alpha1.KMSKeyList
	if err := b.Client.List(ctx, &list); err != nil {
		return fmt.Errorf("listing keys: %w", err)
	}
	byAccount := map[string][]*Key{}
	for i := range list.Items {
		k := &list.Items[i]
		account, ok := strings.CutPrefix(k.Namespace, v1alpha1.Namespace(""))
		if !ok {
			continue
		}
		byAccount[account] = append(byAccount[account], b.Keys.key(account, k))
	}
	var errs []error
	for account, keys := range byAccount {
		errs = append(errs, b.bindAccount(ctx, account, keys))
	}
	return errors.Join(errs...)
}

// Run resyncs every interval until ctx ends, logging what fails: the next
// round retries it.
func (b *Binder) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := b.Resync(ctx); err != nil && ctx.Err() == nil {
			b.Logger.Warn("copying keys into their clusters", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

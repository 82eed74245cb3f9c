package keycache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/keycache"
	"github.com/cellplane/cellplane/internal/poll"
	"github.com/cellplane/cellplane/internal/sigv4"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

// counting is the real account store, counting the lookups that reach it.
type counting struct {
	*account.Store
	reads atomic.Int64
}

func (c *counting) Lookup(ctx context.Context, akid string) (sigv4.Credentials, error) {
	c.reads.Add(1)
	return c.Store.Lookup(ctx, akid)
}

// setup returns a cache over the real store, kept current by the real watch,
// and an account with one key.
func setup(t *testing.T) (*keycache.Cache, *counting, account.AccessKey) {
	t.Helper()
	ctx := t.Context()
	cl := env.Client(t)
	clear := func() {
		if err := cl.DeleteAllOf(context.Background(), &corev1.Secret{}, client.InNamespace(account.Namespace)); err != nil {
			t.Errorf("clearing accounts: %v", err)
		}
	}
	clear()
	t.Cleanup(clear)
	store := &counting{Store: &account.Store{Client: cl, Key: bytes.Repeat([]byte{7}, account.MasterKeySize)}}
	cache := keycache.New(keycache.Config{Store: store, TTL: time.Hour, NegativeTTL: time.Hour})
	synced, err := account.WatchKeys(ctx, env.RESTConfig(t), account.KeyEvents{Changed: cache.Invalidate, Lost: cache.Purge})
	if err != nil {
		t.Fatal(err)
	}
	if err := poll.Until(ctx, 30*time.Second, 10*time.Millisecond, func() error {
		if !synced() {
			return errors.New("key watch not synced")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	_, key, err := store.CreateAccount(ctx, "team")
	if err != nil {
		t.Fatal(err)
	}
	return cache, store, key
}

// 10,000 lookups of unknown keys cost one store read per distinct key, and
// none once each was seen.
func TestUnknownKeysCostNoStoreRead(t *testing.T) {
	cache, store, _ := setup(t)
	ctx := t.Context()
	unknown := make([]string, 10)
	for i := range unknown {
		unknown[i] = "CPAKUNKNOWNUNKNOWNA" + string(rune('A'+i)) // well-formed, never issued
	}
	for _, k := range unknown {
		if _, err := cache.Lookup(ctx, k); !errors.Is(err, sigv4.ErrUnknownKey) {
			t.Fatalf("Lookup(%s) = %v; want ErrUnknownKey", k, err)
		}
	}
	if n := store.reads.Load(); n != int64(len(unknown)) {
		t.Fatalf("first lookups read the store %d times; want %d", n, len(unknown))
	}
	for i := range 10_000 {
		if _, err := cache.Lookup(ctx, unknown[i%len(unknown)]); !errors.Is(err, sigv4.ErrUnknownKey) {
			t.Fatalf("Lookup = %v; want ErrUnknownKey", err)
		}
	}
	if n := store.reads.Load() - int64(len(unknown)); n != 0 {
		t.Fatalf("10,000 lookups of unknown keys read the store %d times; want 0", n)
	}
}

// A deactivated key is refused within a second though the cache keeps
// entries for an hour; activated again, and newly created, a key is accepted
// as soon as the watch sees it.
func TestKeyChangesReachTheCache(t *testing.T) {
	cache, store, key := setup(t)
	ctx := t.Context()
	if _, err := cache.Lookup(ctx, key.AccessKeyID); err != nil {
		t.Fatalf("Lookup: %v", err)
	}
	within := func(want error) time.Duration {
		t.Helper()
		start := time.Now()
		err := poll.Until(ctx, time.Second, 5*time.Millisecond, func() error {
			_, err := cache.Lookup(ctx, key.AccessKeyID)
			if (want == nil && err == nil) || (want != nil && errors.Is(err, want)) {
				return nil
			}
			return fmt.Errorf("Lookup = %v; want %v", err, want)
		})
		if err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	if _, err := store.SetAccessKeyStatus(ctx, key.Account, key.AccessKeyID, account.KeyInactive); err != nil {
		t.Fatal(err)
	}
	t.Logf("deactivated key refused after %s", within(sigv4.ErrUnknownKey))
	if _, err := store.SetAccessKeyStatus(ctx, key.Account, key.AccessKeyID, account.KeyActive); err != nil {
		t.Fatal(err)
	}
	t.Logf("activated key accepted after %s", within(nil))
	if err := store.DeleteAccessKey(ctx, key.Account, key.AccessKeyID); err != nil {
		t.Fatal(err)
	}
	t.Logf("deleted key refused after %s", within(sigv4.ErrUnknownKey))

	fresh, err := store.CreateAccessKey(ctx, key.Account)
	if err != nil {
		t.Fatal(err)
	}
	key = fresh
	t.Logf("new key accepted after %s", within(nil))
}

package signingkeys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/sigv4"
)

// Accounts is what the publisher reads of the account store.
type Accounts interface {
	ListAccounts(ctx context.Context) ([]account.Account, error)
	ListAccessKeys(ctx context.Context, accountID string) ([]account.AccessKey, error)
	Lookup(ctx context.Context, akid string) (sigv4.Credentials, error)
}

// ResyncInterval is how often every key is published again: the days roll
// over at midnight UTC, and a missed watch event is repaired within it.
const ResyncInterval = 10 * time.Minute

// Publisher keeps the signing keys of the region's active access keys in the
// region store.
type Publisher struct {
	Accounts Accounts
	Client   client.Client // the region store
	Region   string
	Now      func() time.Time
	Log      *slog.Logger
}

func (p *Publisher) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Run publishes every key, then again on every key change (from
// account.WatchKeys on cfg) and every ResyncInterval, until ctx ends.
func (p *Publisher) Run(ctx context.Context, cfg *rest.Config) error {
	changed := make(chan string, 64)
	resync := make(chan struct{}, 1)
	kick := func() {
		select {
		case resync <- struct{}{}:
		default:
		}
	}
	_, err := account.WatchKeys(ctx, cfg, account.KeyEvents{
		Changed: func(akid string) {
			select {
			case changed <- akid:
			default:
				kick()
			}
		},
		Lost: kick,
	})
	if err != nil {
		return err
	}
	tick := time.NewTicker(ResyncInterval)
	defer tick.Stop()
	kick()
	for {
		var err error
		select {
		case <-ctx.Done():
			return nil
		case akid := <-changed:
			err = p.SyncKey(ctx, akid)
		case <-resync:
			err = p.Sync(ctx)
		case <-tick.C:
			err = p.Sync(ctx)
		}
		if err != nil && ctx.Err() == nil {
			p.Log.Warn("publishing signing keys", "err", err)
			time.AfterFunc(5*time.Second, kick)
		}
	}
}

// Sync publishes every active key and removes what is published for any
// other.
func (p *Publisher) Sync(ctx context.Context) error {
	accounts, err := p.Accounts.ListAccounts(ctx)
	if err != nil {
		return fmt.Errorf("listing accounts: %w", err)
	}
	want := map[string]bool{}
	var errs []error
	for _, a := range accounts {
		keys, err := p.Accounts.ListAccessKeys(ctx, a.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, k := range keys {
			want[k.AccessKeyID] = true
			errs = append(errs, p.SyncKey(ctx, k.AccessKeyID))
		}
	}
	var published corev1.SecretList
	if err := p.Client.List(ctx, &published, client.InNamespace(Namespace), client.MatchingLabels(Selector())); err != nil {
		return fmt.Errorf("listing signing keys: %w", err)
	}
	for i := range published.Items {
		if akid := FromSecret(&published.Items[i]).AccessKeyID; !want[akid] {
			errs = append(errs, p.SyncKey(ctx, akid))
		}
	}
	return errors.Join(errs...)
}

// SyncKey publishes akid's signing keys when it is active and removes them
// otherwise (inactive, deleted, or its account gone).
func (p *Publisher) SyncKey(ctx context.Context, akid string) error {
	creds, err := p.Accounts.Lookup(ctx, akid)
	if errors.Is(err, sigv4.ErrUnknownKey) {
		return p.remove(ctx, akid)
	}
	if err != nil {
		return fmt.Errorf("publishing signing keys of %s: %w", akid, err)
	}
	k := Keys{AccessKeyID: akid, Account: creds.Account, Principal: creds.Principal, Days: map[string][]byte{}}
	for _, day := range Days(p.now()) {
		k.Days[day] = sigv4.SigningKey(creds.SecretAccessKey, day, p.Region, Service)
	}
	return p.put(ctx, Secret(k))
}

func (p *Publisher) put(ctx context.Context, want *corev1.Secret) error {
	var have corev1.Secret
	err := p.Client.Get(ctx, client.ObjectKeyFromObject(want), &have)
	switch {
	case apierrors.IsNotFound(err):
		if err := p.Client.Create(ctx, want); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("publishing %s: %w", want.Name, err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("reading %s: %w", want.Name, err)
	case equality.Semantic.DeepEqual(have.Data, want.Data) && equality.Semantic.DeepEqual(have.Labels, want.Labels):
		return nil
	}
	have.Data, have.Labels = want.Data, want.Labels
	if err := p.Client.Update(ctx, &have); err != nil {
		return fmt.Errorf("publishing %s: %w", want.Name, err)
	}
	return nil
}

func (p *Publisher) remove(ctx context.Context, akid string) error {
	s := &corev1.Secret{}
	s.Namespace, s.Name = Namespace, Name(akid)
	if err := p.Client.Delete(ctx, s); client.IgnoreNotFound(err) != nil {
		return fmt.Errorf("withdrawing signing keys of %s: %w", akid, err)
	}
	return nil
}

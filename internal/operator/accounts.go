package operator

import (
	"context"
	"fmt"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/iam"
)

// Accounts manages the accounts of the cellplane on a data directory.
type Accounts struct {
	store   *account.Store
	iam     *iam.Store
	region  client.Client
	dataDir string
}

// Accounts connects to the region's store and loads the master key that
// encrypts accounts' secret keys.
func (c *Client) Accounts() (*Accounts, error) {
	cl, err := c.regionStore()
	if err != nil {
		return nil, err
	}
	key, err := account.LoadOrCreateMasterKey(datadir.MasterKeyFile(c.dataDir))
	if err != nil {
		return nil, fmt.Errorf("loading the account master key: %w", err)
	}
	st := &account.Store{Client: cl, Key: key}
	return &Accounts{store: st, iam: &iam.Store{Client: cl, Accounts: st}, region: cl, dataDir: c.dataDir}, nil
}

// Create makes an account with its admin user and the user's first access
// key; the secret is returned only here.
func (a *Accounts) Create(ctx context.Context, name string) (account.Account, account.AccessKey, error) {
	return a.iam.CreateAccount(ctx, name)
}

// List returns every account.
func (a *Accounts) List(ctx context.Context) ([]account.Account, error) {
	return a.store.ListAccounts(ctx)
}

// Delete removes an account, its users, roles and keys. It refuses while the account still
// owns clusters (their control planes would be left without an owner) and for
// the first account, whose key is cellplane's own profile.
func (a *Accounts) Delete(ctx context.Context, id string) error {
	if id == v1alpha1.DefaultAccount {
		return fmt.Errorf("%w: account %s is the first account; its key is this data directory's AWS profile", errdefs.ErrInvalidRequest, id)
	}
	var clusters v1alpha1.ClusterList
	if err := a.region.List(ctx, &clusters, client.InNamespace(v1alpha1.Namespace(id))); err != nil {
		return fmt.Errorf("listing clusters of account %s: %w", id, err)
	}
	if n := len(clusters.Items); n > 0 {
		return fmt.Errorf("%w: account %s still has %d clusters; delete them first", errdefs.ErrInvalidRequest, id, n)
	}
	return a.iam.DeleteAccount(ctx, id)
}

package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/store"
)

// Accounts manages the accounts of the service running on a data directory. It
// works on the region's store directly, with the store's admin credentials and the
// master key, so only someone who can read the data directory can use it.
type Accounts struct {
	store  *account.Store
	region client.Client
}

// AccountsFor connects to the region store of the service running on dataDir.
func AccountsFor(dataDir string) (*Accounts, error) {
	cl, err := regionClient(dataDir)
	if err != nil {
		return nil, err
	}
	key, err := account.LoadOrCreateMasterKey(filepath.Join(dataDir, "region", "keys", "master.key"))
	if err != nil {
		return nil, fmt.Errorf("loading the account master key: %w", err)
	}
	return &Accounts{store: &account.Store{Client: cl, Key: key}, region: cl}, nil
}

// regionClient connects an operator command to the region store of the service
// running on dataDir, with the store's admin credentials.
func regionClient(dataDir string) (client.Client, error) {
	if _, err := ReadEndpoint(dataDir); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w on data directory %s: start it with 'cellplane up'", ErrNotRunning, dataDir)
	}
	in, err := loadInstance(dataDir, "", 0, nil)
	if err != nil {
		return nil, err
	}
	block, err := ipam.ParseBlock(in.AddressBlock, in.Cells)
	if err != nil {
		return nil, err
	}
	sc, err := newScheme()
	if err != nil {
		return nil, err
	}
	cl, err := client.New(store.AdminConfig(filepath.Join(dataDir, "region", "store"), block.RegionIP()), client.Options{Scheme: sc})
	if err != nil {
		return nil, fmt.Errorf("connecting to the region store: %w", err)
	}
	return cl, nil
}

// Create makes an account with one access key; the secret is returned only here.
func (a *Accounts) Create(ctx context.Context, name string) (account.Account, account.AccessKey, error) {
	return a.store.CreateAccount(ctx, name)
}

// List returns every account.
func (a *Accounts) List(ctx context.Context) ([]account.Account, error) {
	return a.store.ListAccounts(ctx)
}

// Delete removes an account and its keys. It refuses while the account still
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
	return a.store.DeleteAccount(ctx, id)
}

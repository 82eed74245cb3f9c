package region

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/internal/account"
	regionapi "github.com/cellplane/cellplane/internal/region/api"
	"github.com/cellplane/cellplane/internal/signingkeys"
)

// publishSigningKeys keeps the sts signing keys of every active access key
// in the region store until ctx ends, for the cells' sign-in authenticators
// to mirror (package signingkeys).
func (s *Service) publishSigningKeys(ctx context.Context, cl client.Client, accounts *account.Store) {
	p := &signingkeys.Publisher{Accounts: accounts, Client: cl, Region: regionapi.DefaultRegion,
		Log: s.cfg.Logger.With("component", "signing-keys")}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := p.Run(ctx, s.region.RESTConfig()); err != nil {
			s.cfg.Logger.Error("publishing signing keys", "err", err)
		}
	}()
}

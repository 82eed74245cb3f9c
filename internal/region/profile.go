package region

import (
	"context"
	"fmt"
	"os"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/pki"
	regionapi "github.com/cellplane/cellplane/internal/region/api"
)

// writeProfile also records ca_bundle, the documented key, but neither awscli 2.9
// nor aws-sdk-go-v2 applied it when tried: `up` therefore prints AWS_CA_BUNDLE too.

// ensureFirstAccount makes the default account and, when the data directory has
// no credentials for it yet, an access key written as an AWS profile. A secret key
// is shown once: it exists in the store only encrypted.
func (s *Service) ensureFirstAccount(ctx context.Context, store *account.Store) error {
	_, key, err := store.EnsureAccount(ctx, v1alpha1.DefaultAccount, "default")
	if err != nil {
		return fmt.Errorf("creating the first account: %w", err)
	}
	if _, err := os.Stat(datadir.AWSCredentialsFile(s.cfg.DataDir)); key == nil && err == nil {
		return nil
	}
	if key == nil {
		k, err := store.CreateAccessKey(ctx, v1alpha1.DefaultAccount)
		if err != nil {
			return fmt.Errorf("creating an access key: %w", err)
		}
		key = &k
	}
	return s.writeProfile(*key)
}

func (s *Service) writeProfile(key account.AccessKey) error {
	cfg := fmt.Sprintf("[profile %s]\nregion = %s\nendpoint_url = %s\nca_bundle = %s\n",
		datadir.Profile, regionapi.DefaultRegion, s.endpoint.URL, s.endpoint.CAFile)
	if err := pki.WriteFileAtomic(datadir.AWSConfigFile(s.cfg.DataDir), []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("writing AWS config: %w", err)
	}
	return datadir.WriteAWSCredentials(s.cfg.DataDir, key.AccessKeyID, key.SecretAccessKey)
}

package service

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/account"
	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/pki"
	regionapi "github.com/cellplane/cellplane/internal/region/api"
)

// Profile is the AWS profile `cellplane up` writes for the first account.
const Profile = "cellplane"

// AWSConfigFile and AWSCredentialsFile are where that profile lives: point
// AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE at them.
func AWSConfigFile(dataDir string) string      { return filepath.Join(dataDir, "aws", "config") }
func AWSCredentialsFile(dataDir string) string { return filepath.Join(dataDir, "aws", "credentials") }

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
	if _, err := os.Stat(AWSCredentialsFile(s.cfg.DataDir)); key == nil && err == nil {
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
		Profile, regionapi.DefaultRegion, s.endpoint.URL, s.endpoint.CAFile)
	creds := fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n",
		Profile, key.AccessKeyID, key.SecretAccessKey)
	if err := pki.WriteFileAtomic(AWSConfigFile(s.cfg.DataDir), []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("writing AWS config: %w", err)
	}
	if err := pki.WriteFileAtomic(AWSCredentialsFile(s.cfg.DataDir), []byte(creds), 0o600); err != nil {
		return fmt.Errorf("writing AWS credentials: %w", err)
	}
	return nil
}

// ErrNotRunning says no cellplane serves a data directory.
var ErrNotRunning = errors.New("cellplane is not running")

// ClientFor returns a regional API client for the service running on dataDir,
// trusting its CA and signing with the profile `cellplane up` wrote.
func ClientFor(ctx context.Context, dataDir string) (*client.Client, error) {
	ep, err := ReadEndpoint(dataDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w on data directory %s: start it with 'cellplane up'", ErrNotRunning, dataDir)
	}
	if err != nil {
		return nil, err
	}
	hc, err := httpClientTrusting(ep.CAFile)
	if err != nil {
		return nil, err
	}
	sc, err := config.LoadSharedConfigProfile(ctx, Profile, func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles = []string{AWSConfigFile(dataDir)}
		o.CredentialsFiles = []string{AWSCredentialsFile(dataDir)}
	})
	if err != nil {
		return nil, fmt.Errorf("reading the %s profile in %s: %w", Profile, filepath.Dir(AWSConfigFile(dataDir)), err)
	}
	return client.New(ep.URL, hc).WithCredentials(client.Credentials{
		AccessKeyID: sc.Credentials.AccessKeyID, SecretAccessKey: sc.Credentials.SecretAccessKey, Region: sc.Region,
	}), nil
}

func httpClientTrusting(caFile string) (*http.Client, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("reading the regional API's CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}, nil
}

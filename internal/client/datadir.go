package client

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

	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// FromDataDir returns a client of the regional API of the cellplane running
// on dataDir, trusting its CA and signing with the profile `cellplane up`
// wrote. Without a running cellplane it fails with errdefs.ErrNotRunning.
func FromDataDir(ctx context.Context, dataDir string) (*Client, error) {
	ep, err := datadir.ReadEndpoint(dataDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w on data directory %s: start it with 'cellplane up'", errdefs.ErrNotRunning, dataDir)
	}
	if err != nil {
		return nil, err
	}
	hc, err := httpClientTrusting(ep.CAFile)
	if err != nil {
		return nil, err
	}
	sc, err := config.LoadSharedConfigProfile(ctx, datadir.Profile, func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles = []string{datadir.AWSConfigFile(dataDir)}
		o.CredentialsFiles = []string{datadir.AWSCredentialsFile(dataDir)}
	})
	if err != nil {
		return nil, fmt.Errorf("reading the %s profile in %s: %w", datadir.Profile, filepath.Dir(datadir.AWSConfigFile(dataDir)), err)
	}
	return New(ep.URL, hc).WithCredentials(Credentials{
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

package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/cellplane/cellplane/internal/client"
	"github.com/cellplane/cellplane/internal/service"
)

// errNotRunning says no cellplane serves the data directory.
var errNotRunning = errors.New("cellplane is not running")

// client connects to the service running on the data directory.
func (g *globals) client() (*client.Client, error) {
	ep, err := service.ReadEndpoint(g.dataDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w on data directory %s: start it with 'cellplane up'", errNotRunning, g.dataDir)
	}
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(ep.CAFile)
	if err != nil {
		return nil, fmt.Errorf("reading the regional API's CA: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
	return client.New(ep.URL, hc), nil
}

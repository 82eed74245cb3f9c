package operator

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/store"
)

// Client is an operator's handle on the cellplane of one data directory. It
// connects to the region's store on first use.
type Client struct {
	dataDir string

	mu     sync.Mutex
	region client.Client
}

// New returns a client of the cellplane on dataDir; it connects to nothing yet.
func New(dataDir string) *Client { return &Client{dataDir: dataDir} }

// DataDir is the data directory the client works on.
func (c *Client) DataDir() string { return c.dataDir }

// regionStore connects to the region's store of the running cellplane; it
// fails with errdefs.ErrNotRunning when none serves the data directory.
func (c *Client) regionStore() (client.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.region != nil {
		return c.region, nil
	}
	if _, err := datadir.ReadEndpoint(c.dataDir); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w on data directory %s: start it with 'cellplane up'", errdefs.ErrNotRunning, c.dataDir)
	}
	in, err := datadir.LoadInstance(c.dataDir, "", 0, nil)
	if err != nil {
		return nil, err
	}
	block, err := in.Block()
	if err != nil {
		return nil, err
	}
	sc, err := store.Scheme()
	if err != nil {
		return nil, err
	}
	cl, err := client.New(datadir.RegionStore(c.dataDir, block), client.Options{Scheme: sc})
	if err != nil {
		return nil, fmt.Errorf("connecting to the region store: %w", err)
	}
	c.region = cl
	return cl, nil
}

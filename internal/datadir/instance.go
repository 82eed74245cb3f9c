package datadir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/ipam"
	"github.com/cellplane/cellplane/internal/pki"
)

// DefaultAddressBlock is where the embedded default lives: the region on 127.100.0.0/16
// and cell k on 127.(100+k).0.0/16.
const DefaultAddressBlock = "127.100"

// Instance is what a data directory remembers about its first start: the address
// block every cluster's addresses derive from, which must never change under them,
// and how many cells it runs, which may grow but never shrink (a removed cell's
// clusters would be orphaned).
type Instance struct {
	AddressBlock string `json:"addressBlock"`
	Cells        int    `json:"cells"`
	// ZoneNamespaces puts each zone of every cell in its own network
	// namespace; chosen at creation, since moving running members between
	// namespaces would restart every one of them.
	ZoneNamespaces bool `json:"zoneNamespaces,omitempty"`
}

// LoadInstance reads the data directory's instance, creating it on first use.
// requestedBlock, requestedCells and requestedNS are what the caller asked
// for; empty, 0 and nil mean "as remembered, else the default".
func LoadInstance(dataDir, requestedBlock string, requestedCells int, requestedNS *bool) (Instance, error) {
	path := filepath.Join(dataDir, "instance.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		in := Instance{AddressBlock: requestedBlock, Cells: max(requestedCells, 1), ZoneNamespaces: requestedNS != nil && *requestedNS}
		if in.AddressBlock == "" {
			in.AddressBlock = DefaultAddressBlock
		}
		return in, in.save(path)
	}
	if err != nil {
		return Instance{}, fmt.Errorf("reading %s: %w", path, err)
	}
	var in Instance
	if err := json.Unmarshal(data, &in); err != nil {
		return Instance{}, fmt.Errorf("reading %s: %w", path, err)
	}
	in.Cells = max(in.Cells, 1) // written before cells could be counted
	if requestedBlock != "" && requestedBlock != in.AddressBlock {
		return Instance{}, fmt.Errorf("%w: the data directory uses address block %s, not %s", errdefs.ErrInvalidConfig, in.AddressBlock, requestedBlock)
	}
	if requestedNS != nil && *requestedNS != in.ZoneNamespaces {
		return Instance{}, fmt.Errorf("%w: the data directory runs its zones %s; zone namespaces are chosen when a data directory is created",
			errdefs.ErrInvalidConfig, map[bool]string{true: "in network namespaces", false: "on loopback"}[in.ZoneNamespaces])
	}
	switch {
	case requestedCells != 0 && requestedCells < in.Cells:
		return Instance{}, fmt.Errorf("%w: the data directory has %d cells, more than asked, and cells cannot be removed; stop placing clusters in one with 'cellplane cell drain'",
			errdefs.ErrInvalidConfig, in.Cells)
	case requestedCells > in.Cells:
		in.Cells = requestedCells
		return in, in.save(path)
	}
	return in, nil
}

func (in Instance) save(path string) error {
	b, _ := json.Marshal(in)
	return pki.WriteFileAtomic(path, b, 0o600)
}

// Endpoint is how clients find a running service: written by `up` into the
// data directory once the regional API serves, removed when it stops.
type Endpoint struct {
	URL    string `json:"url"`
	CAFile string `json:"caFile"`
	PID    int    `json:"pid"`
}

// EndpointFile is where a data directory's Endpoint is written.
func EndpointFile(dataDir string) string { return filepath.Join(dataDir, "endpoint.json") }

// ReadEndpoint reads the endpoint of the service running on dataDir.
func ReadEndpoint(dataDir string) (Endpoint, error) {
	var e Endpoint
	data, err := os.ReadFile(EndpointFile(dataDir))
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("reading %s: %w", EndpointFile(dataDir), err)
	}
	return e, nil
}

// WriteEndpoint records how clients reach the regional API.
func WriteEndpoint(dataDir string, e Endpoint) error {
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	return pki.WriteFileAtomic(EndpointFile(dataDir), data, 0o600)
}

// Block is the instance's address plan.
func (in Instance) Block() (ipam.Block, error) {
	b, err := ipam.ParseBlock(in.AddressBlock, in.Cells)
	if err != nil {
		return ipam.Block{}, fmt.Errorf("%w: %w", errdefs.ErrInvalidConfig, err)
	}
	return b, nil
}

package service

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cellplane/cellplane/internal/pki"
)

// instance is what a data directory remembers about its first start: the address
// block every cluster's addresses derive from, which must never change under them.
type instance struct {
	AddressBlock string `json:"addressBlock"`
}

func loadInstance(dataDir, requested string) (instance, error) {
	path := filepath.Join(dataDir, "instance.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		in := instance{AddressBlock: requested}
		if in.AddressBlock == "" {
			in.AddressBlock = DefaultAddressBlock
		}
		b, _ := json.Marshal(in)
		return in, pki.WriteFileAtomic(path, b, 0o600)
	}
	if err != nil {
		return instance{}, fmt.Errorf("reading %s: %w", path, err)
	}
	var in instance
	if err := json.Unmarshal(data, &in); err != nil {
		return instance{}, fmt.Errorf("reading %s: %w", path, err)
	}
	if requested != "" && requested != in.AddressBlock {
		return instance{}, fmt.Errorf("%w: the data directory uses address block %s, not %s", ErrInvalidConfig, in.AddressBlock, requested)
	}
	return in, nil
}

// Endpoint is how clients find a running service: written by Start into the data
// directory, removed by Close.
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

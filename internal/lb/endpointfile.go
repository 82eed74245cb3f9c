package lb

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Health-check defaults, applied to zero fields of HealthCheckConfig.
const (
	DefaultHealthPath     = "/readyz"
	DefaultHealthInterval = time.Second
	DefaultHealthTimeout  = time.Second
	DefaultFallCount      = 2
	DefaultRiseCount      = 1
	// DefaultDrainSeconds is the window over which a draining backend's
	// connections are closed, each at a random moment of it, so their clients
	// do not all reconnect at once.
	DefaultDrainSeconds = 10
	// connectionAgeJitter spreads each connection's maximum age by up to this
	// share either way, so connections opened together are not cut together.
	connectionAgeJitter = 0.1
)

const endpointFileExt = ".json"

// EndpointConfig is the content of one <id>.json file in the config
// directory: a listen address and the kube-apiservers behind it.
type EndpointConfig struct {
	ID          string            `json:"id"`
	Listen      string            `json:"listen"`
	Backends    []BackendConfig   `json:"backends"`
	HealthCheck HealthCheckConfig `json:"healthCheck"`
	// MaxConnectionAgeSeconds, when positive, closes each client connection
	// after about that long (±10%), so long-lived connections spread again over
	// the backends after one restarts; clients reconnect, and watches resume.
	// Zero keeps connections for as long as both sides do.
	MaxConnectionAgeSeconds int `json:"maxConnectionAgeSeconds,omitempty"`
	// DrainSeconds is how long a backend marked draining keeps its existing
	// connections at most; default DefaultDrainSeconds.
	DrainSeconds int `json:"drainSeconds,omitempty"`
}

// BackendConfig is one kube-apiserver of an endpoint.
type BackendConfig struct {
	Name    string `json:"name"`
	Address string `json:"address"`
	// Draining takes the backend out of rotation without removing it: new
	// connections go elsewhere unless no other backend answers, and existing
	// ones are closed over DrainSeconds. Evacuating a zone drains its servers.
	Draining bool `json:"draining,omitempty"`
	// KeepConnections, with Draining, closes none of the backend's
	// connections: the server is about to stop gracefully and closes them
	// itself (HTTP/2 GOAWAY after the requests in flight), which fails no
	// request, where a cut connection could.
	KeepConnections bool `json:"keepConnections,omitempty"`
}

// HealthCheckConfig says how to probe an endpoint's backends: an HTTPS GET
// of Path, verified against CAFile, healthy on 200 only.
type HealthCheckConfig struct {
	Path string `json:"path,omitempty"`
	// CAFile is relative to the config directory unless absolute.
	CAFile string `json:"caFile"`
	// ServerName defaults to each backend's host IP.
	ServerName     string `json:"serverName,omitempty"`
	IntervalMillis int    `json:"intervalMillis,omitempty"`
	TimeoutMillis  int    `json:"timeoutMillis,omitempty"`
	FallCount      int    `json:"fallCount,omitempty"`
	RiseCount      int    `json:"riseCount,omitempty"`
}

// readEndpointFile loads and validates the file of endpoint id in dir.
func readEndpointFile(dir, id string) (EndpointConfig, error) {
	data, err := os.ReadFile(endpointPath(dir, id))
	if err != nil {
		return EndpointConfig{}, fmt.Errorf("reading endpoint %s: %w", id, err)
	}
	return parseEndpointConfig(data, dir, id)
}

// parseEndpointConfig accepts unknown fields on purpose: a newer cellplane may
// write fields this balancer does not know, and refusing them would take the
// endpoint down during an upgrade.
func parseEndpointConfig(data []byte, dir, id string) (EndpointConfig, error) {
	var c EndpointConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("%w: endpoint %s: %w", ErrInvalidConfig, id, err)
	}
	c = c.withDefaults(dir, id)
	if err := c.validate(id); err != nil {
		return c, fmt.Errorf("%w: endpoint %s: %w", ErrInvalidConfig, id, err)
	}
	return c, nil
}

func (c EndpointConfig) withDefaults(dir, id string) EndpointConfig {
	if c.ID == "" {
		c.ID = id
	}
	c.Backends = append([]BackendConfig(nil), c.Backends...)
	for i, b := range c.Backends {
		if b.Name == "" {
			c.Backends[i].Name = b.Address
		}
	}
	c.HealthCheck = c.HealthCheck.withDefaults(dir)
	c.DrainSeconds = orDefault(c.DrainSeconds, DefaultDrainSeconds)
	return c
}

func (h HealthCheckConfig) withDefaults(dir string) HealthCheckConfig {
	h.Path = orDefault(h.Path, DefaultHealthPath)
	h.IntervalMillis = orDefault(h.IntervalMillis, int(DefaultHealthInterval.Milliseconds()))
	h.TimeoutMillis = orDefault(h.TimeoutMillis, int(DefaultHealthTimeout.Milliseconds()))
	h.FallCount = orDefault(h.FallCount, DefaultFallCount)
	h.RiseCount = orDefault(h.RiseCount, DefaultRiseCount)
	if h.CAFile != "" && !filepath.IsAbs(h.CAFile) {
		h.CAFile = filepath.Join(dir, h.CAFile)
	}
	return h
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func (c EndpointConfig) validate(id string) error {
	if c.ID != id {
		return fmt.Errorf("id %q does not match file name %q", c.ID, id+endpointFileExt)
	}
	if err := validateHostPort(c.Listen, false); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if err := validateBackends(c.Backends); err != nil {
		return err
	}
	if c.MaxConnectionAgeSeconds < 0 || c.DrainSeconds < 0 {
		return errors.New("maxConnectionAgeSeconds and drainSeconds must not be negative")
	}
	return c.HealthCheck.validate()
}

func validateBackends(backends []BackendConfig) error {
	seen := make(map[string]bool, len(backends))
	for _, b := range backends {
		if err := validateHostPort(b.Address, true); err != nil {
			return fmt.Errorf("backend %q: %w", b.Name, err)
		}
		if seen[b.Name] {
			return fmt.Errorf("duplicate backend name %q", b.Name)
		}
		seen[b.Name] = true
	}
	return nil
}

func (h HealthCheckConfig) validate() error {
	switch {
	case h.CAFile == "":
		return errors.New("healthCheck.caFile is required")
	case !strings.HasPrefix(h.Path, "/"):
		return fmt.Errorf("healthCheck.path %q must start with /", h.Path)
	case h.IntervalMillis < 0, h.TimeoutMillis < 0, h.FallCount < 0, h.RiseCount < 0:
		return errors.New("healthCheck durations and counts must not be negative")
	}
	return nil
}

// validateHostPort checks addr without resolving it; a listen address may
// leave the host empty to mean every interface, a backend may not.
func validateHostPort(addr string, needHost bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("address %q: %w", addr, err)
	}
	if _, err := net.LookupPort("tcp", port); err != nil || (needHost && host == "") {
		return fmt.Errorf("address %q needs a host and a port", addr)
	}
	return nil
}

// WriteEndpointFile atomically writes c as dir/<c.ID>.json. The temporary
// file starts with a dot so a polling balancer never reads it half-written.
func WriteEndpointFile(dir string, c EndpointConfig) error {
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding endpoint %s: %w", c.ID, err)
	}
	tmp, err := os.CreateTemp(dir, "."+c.ID+".*.tmp")
	if err != nil {
		return fmt.Errorf("writing endpoint %s: %w", c.ID, err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // no-op once renamed; on failure the write's error is the one returned
	if err := writeAndSync(tmp, data); err != nil {
		return fmt.Errorf("writing endpoint %s: %w", c.ID, err)
	}
	if err := os.Rename(tmp.Name(), endpointPath(dir, c.ID)); err != nil {
		return fmt.Errorf("replacing endpoint %s: %w", c.ID, err)
	}
	return nil
}

func writeAndSync(f *os.File, data []byte) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// RemoveEndpointFile deletes the file of endpoint id; a missing file is not
// an error, so callers can retry.
func RemoveEndpointFile(dir, id string) error {
	err := os.Remove(endpointPath(dir, id))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing endpoint %s: %w", id, err)
	}
	return nil
}

func endpointPath(dir, id string) string {
	return filepath.Join(dir, id+endpointFileExt)
}

// endpointID returns the id of a config file name, or false for files the
// balancer must ignore: temp files, hidden files such as Kubernetes'
// ..data symlinks, and anything not ending in .json.
func endpointID(name string) (string, bool) {
	id, ok := strings.CutSuffix(name, endpointFileExt)
	if !ok || id == "" || strings.HasPrefix(name, ".") {
		return "", false
	}
	return id, true
}

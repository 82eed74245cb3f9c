package addoncatalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
)

// Config is an add-on's configuration, configurationValues with the
// defaults filled in. Each add-on reads its own fields.
type Config struct {
	// ReplicaCount is CoreDNS's Deployment's replicas.
	ReplicaCount int `json:"replicaCount,omitempty"`
	// Corefile replaces CoreDNS's default Corefile.
	Corefile string `json:"corefile,omitempty"`
	// Mode is kube-proxy's proxy mode.
	Mode string `json:"mode,omitempty"`
}

// Defaults of the configuration.
const (
	DefaultReplicaCount = 2
	MaxReplicaCount     = 100
	DefaultMode         = "iptables"
)

// proxyModes are the kube-proxy modes its configurationValues accept.
var proxyModes = []string{"iptables", "nftables"}

// schemas are the JSON schemas DescribeAddonConfiguration returns, which
// ParseConfig enforces.
var schemas = map[string]string{
	CoreDNS: `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":false,` +
		`"properties":{"replicaCount":{"type":"integer","minimum":1,"maximum":100,"description":"Replicas of the CoreDNS Deployment (default 2)."},` +
		`"corefile":{"type":"string","description":"The Corefile CoreDNS serves, replacing the default."}}}`,
	KubeProxy: `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","additionalProperties":false,` +
		`"properties":{"mode":{"type":"string","enum":["iptables","nftables"],"description":"kube-proxy's proxy mode (default iptables)."}}}`,
}

// Schema is an add-on's configuration schema, "" for an unknown add-on.
func Schema(addon string) string { return schemas[addon] }

// ParseConfig validates an add-on's configurationValues against its schema
// and returns them with the defaults filled in. The error explains what is
// wrong, fit to show the caller.
func ParseConfig(addon, values string) (Config, error) {
	var c Config
	if values != "" {
		if err := decodeStrict(addon, values, &c); err != nil {
			return Config{}, err
		}
	}
	switch addon {
	case CoreDNS:
		if c.ReplicaCount == 0 {
			c.ReplicaCount = DefaultReplicaCount
		}
	case KubeProxy:
		if c.Mode == "" {
			c.Mode = DefaultMode
		}
	}
	return c, nil
}

// decodeStrict decodes values into c, refusing fields the add-on's schema
// does not name and values out of its ranges.
func decodeStrict(addon, values string, c *Config) error {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(values), &fields); err != nil {
		return fmt.Errorf("configurationValues is not a JSON object: %w", err)
	}
	allowed := map[string][]string{CoreDNS: {"replicaCount", "corefile"}, KubeProxy: {"mode"}}[addon]
	for k := range fields {
		if !slices.Contains(allowed, k) {
			return fmt.Errorf("configurationValues has field %q, which the %s schema does not allow (allowed: %v)", k, addon, allowed)
		}
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(values)))
	if err := dec.Decode(c); err != nil {
		return fmt.Errorf("configurationValues does not match the %s schema: %w", addon, err)
	}
	if _, ok := fields["replicaCount"]; ok && (c.ReplicaCount < 1 || c.ReplicaCount > MaxReplicaCount) {
		return fmt.Errorf("configurationValues.replicaCount must be from 1 to %d; got %d", MaxReplicaCount, c.ReplicaCount)
	}
	if _, ok := fields["mode"]; ok && !slices.Contains(proxyModes, c.Mode) {
		return fmt.Errorf("configurationValues.mode must be one of %v; got %q", proxyModes, c.Mode)
	}
	if _, ok := fields["corefile"]; ok && c.Corefile == "" {
		return fmt.Errorf("configurationValues.corefile must not be empty")
	}
	return nil
}

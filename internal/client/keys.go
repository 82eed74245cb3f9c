package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/cellplane/cellplane/internal/eks"
)

// Key is a customer key of the region's key service, as its KMS API
// describes it (KeyMetadata).
type Key struct {
	KeyID        string  `json:"KeyId"`
	Arn          string  `json:"Arn"`
	Description  string  `json:"Description"`
	KeyState     string  `json:"KeyState"`
	Enabled      bool    `json:"Enabled"`
	CreationDate float64 `json:"CreationDate"`
}

// Created is when the key was made.
func (k *Key) Created() time.Time {
	return time.UnixMilli(int64(k.CreationDate * 1000)).UTC()
}

// callKMS sends one KMS call (JSON 1.1, signed for the service "kms") to
// the regional API, which serves the key service beside the EKS API.
func (c *Client) callKMS(ctx context.Context, op string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("encoding request: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint+"/", bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("building request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "TrentService."+op)
	if err := c.signFor(ctx, req, "kms"); err != nil {
		return err
	}
	return c.send(req, out)
}

type keyOutput struct {
	KeyMetadata *Key `json:"KeyMetadata"`
}

type keyRef struct {
	KeyID string `json:"KeyId"`
}

// CreateKey makes an enabled symmetric key.
func (c *Client) CreateKey(ctx context.Context, description string) (*Key, error) {
	var out keyOutput
	if err := c.callKMS(ctx, "CreateKey", map[string]string{"Description": description}, &out); err != nil {
		return nil, fmt.Errorf("creating key: %w", err)
	}
	return keyOf(out)
}

// DescribeKey returns the key named by its ID or ARN.
func (c *Client) DescribeKey(ctx context.Context, ref string) (*Key, error) {
	var out keyOutput
	if err := c.callKMS(ctx, "DescribeKey", keyRef{ref}, &out); err != nil {
		return nil, fmt.Errorf("describing key %s: %w", ref, err)
	}
	return keyOf(out)
}

func keyOf(out keyOutput) (*Key, error) {
	if out.KeyMetadata == nil {
		return nil, &eks.APIError{Status: http.StatusOK, Type: eks.ServerException, Message: "the answer has no KeyMetadata"}
	}
	return out.KeyMetadata, nil
}

// ListKeys returns the IDs of every key of the account, page after page.
func (c *Client) ListKeys(ctx context.Context) ([]string, error) {
	var ids []string
	marker := ""
	for {
		var out struct {
			Keys       []keyRef `json:"Keys"`
			Truncated  bool     `json:"Truncated"`
			NextMarker string   `json:"NextMarker"`
		}
		in := map[string]any{}
		if marker != "" {
			in["Marker"] = marker
		}
		if err := c.callKMS(ctx, "ListKeys", in, &out); err != nil {
			return nil, fmt.Errorf("listing keys: %w", err)
		}
		for _, k := range out.Keys {
			ids = append(ids, k.KeyID)
		}
		if !out.Truncated || out.NextMarker == "" {
			return ids, nil
		}
		marker = out.NextMarker
	}
}

// DisableKey disables a key: the clusters bound to it lose their Secrets
// until it is enabled again.
func (c *Client) DisableKey(ctx context.Context, ref string) error {
	if err := c.callKMS(ctx, "DisableKey", keyRef{ref}, nil); err != nil {
		return fmt.Errorf("disabling key %s: %w", ref, err)
	}
	return nil
}

// EnableKey enables a key again.
func (c *Client) EnableKey(ctx context.Context, ref string) error {
	if err := c.callKMS(ctx, "EnableKey", keyRef{ref}, nil); err != nil {
		return fmt.Errorf("enabling key %s: %w", ref, err)
	}
	return nil
}

// RotateKeyOnDemand gives a key a new generation: the clusters bound to it
// reseal their Secrets under a key of that generation.
func (c *Client) RotateKeyOnDemand(ctx context.Context, ref string) error {
	if err := c.callKMS(ctx, "RotateKeyOnDemand", keyRef{ref}, nil); err != nil {
		return fmt.Errorf("rotating key %s: %w", ref, err)
	}
	return nil
}

// AssociateEncryptionConfig binds a cluster's Secrets to a key (its ARN).
func (c *Client) AssociateEncryptionConfig(ctx context.Context, name, keyARN, clientRequestToken string) (*eks.Update, error) {
	body := eks.AssociateEncryptionConfigInput{EncryptionConfig: EncryptionConfig(keyARN), ClientRequestToken: clientRequestToken}
	var out eks.UpdateOutput
	if err := c.call(ctx, http.MethodPost, clusterPath(name)+"/encryption-config/associate", nil, body, &out); err != nil {
		return nil, fmt.Errorf("associating an encryption config with cluster %s: %w", name, err)
	}
	return updateOf(out)
}

// EncryptionConfig is the encryptionConfig of Secrets under keyARN.
func EncryptionConfig(keyARN string) []eks.EncryptionConfig {
	return []eks.EncryptionConfig{{Resources: []string{eks.ResourceSecrets}, Provider: &eks.Provider{KeyArn: keyARN}}}
}

package eksinput

import (
	"bytes"
	"encoding/json"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// AccessConfig validates CreateCluster's accessConfig and fills EKS's
// defaults: API_AND_CONFIG_MAP, creator bootstrapped.
func AccessConfig(in *eks.AccessConfig) (*v1alpha1.AccessConfig, error) {
	out := &v1alpha1.AccessConfig{AuthenticationMode: v1alpha1.AuthenticationModeAPIAndConfigMap, BootstrapClusterCreatorAdminPermissions: true}
	if in == nil {
		return out, nil
	}
	mode, err := AuthenticationMode(in.AuthenticationMode, out.AuthenticationMode)
	if err != nil {
		return nil, err
	}
	out.AuthenticationMode = mode
	if in.BootstrapClusterCreatorAdminPermissions != nil {
		out.BootstrapClusterCreatorAdminPermissions = *in.BootstrapClusterCreatorAdminPermissions
	}
	return out, nil
}

// AccessConfigUpdate validates an UpdateClusterConfig request that carries
// accessConfig and returns the authentication mode it asks for. The change
// is an update of its own, as deletionProtection is: combined with another
// change it would record one update for two.
func AccessConfigUpdate(in *eks.UpdateClusterConfigInput) (string, error) {
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"logging", in.Logging}, {"resourcesVpcConfig", in.ResourcesVpcConfig}} {
		if raw := bytes.TrimSpace(f.raw); len(raw) > 0 && string(raw) != "null" {
			return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "accessConfig is updated on its own: send %s in a separate UpdateClusterConfig request.", f.name)
		}
	}
	if in.DeletionProtection != nil {
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "accessConfig is updated on its own: send deletionProtection in a separate UpdateClusterConfig request.")
	}
	if in.AccessConfig.AuthenticationMode == "" {
		return "", errdefs.Publicf(errdefs.ErrInvalidParameter, "accessConfig.authenticationMode is required: the authentication mode is the one part of accessConfig an update changes.")
	}
	return AuthenticationMode(in.AccessConfig.AuthenticationMode, "")
}

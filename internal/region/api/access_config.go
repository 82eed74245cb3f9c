package api

import (
	"bytes"
	"encoding/json"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/region/accessentries"
)

// accessConfigOf validates CreateCluster's accessConfig and fills EKS's
// defaults: API_AND_CONFIG_MAP, creator bootstrapped.
func accessConfigOf(in *eks.AccessConfig) (*v1alpha1.AccessConfig, error) {
	out := &v1alpha1.AccessConfig{AuthenticationMode: v1alpha1.AuthenticationModeAPIAndConfigMap, BootstrapClusterCreatorAdminPermissions: true}
	if in == nil {
		return out, nil
	}
	mode, err := eksinput.AuthenticationMode(in.AuthenticationMode, out.AuthenticationMode)
	if err != nil {
		return nil, err
	}
	out.AuthenticationMode = mode
	if in.BootstrapClusterCreatorAdminPermissions != nil {
		out.BootstrapClusterCreatorAdminPermissions = *in.BootstrapClusterCreatorAdminPermissions
	}
	return out, nil
}

// accessConfigWire is a cluster's accessConfig as DescribeCluster shows it.
func accessConfigWire(c *v1alpha1.Cluster) *eks.AccessConfig {
	bootstrap := c.Spec.AccessConfig != nil && c.Spec.AccessConfig.BootstrapClusterCreatorAdminPermissions
	return &eks.AccessConfig{AuthenticationMode: accessentries.Mode(c), BootstrapClusterCreatorAdminPermissions: &bootstrap}
}

func sameAccessConfig(a, b *v1alpha1.AccessConfig) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// accessChange is an AccessConfigUpdate. It is an update of its own, as
// deletionProtection is: combined with another change it would record one
// update for two.
func accessChange(in *eks.UpdateClusterConfigInput) (*configChange, error) {
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"logging", in.Logging}, {"resourcesVpcConfig", in.ResourcesVpcConfig}} {
		if raw := bytes.TrimSpace(f.raw); len(raw) > 0 && string(raw) != "null" {
			return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "accessConfig is updated on its own: send %s in a separate UpdateClusterConfig request.", f.name)
		}
	}
	if in.DeletionProtection != nil {
		return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "accessConfig is updated on its own: send deletionProtection in a separate UpdateClusterConfig request.")
	}
	if in.AccessConfig.AuthenticationMode == "" {
		return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "accessConfig.authenticationMode is required: the authentication mode is the one part of accessConfig an update changes.")
	}
	mode, err := eksinput.AuthenticationMode(in.AccessConfig.AuthenticationMode, "")
	if err != nil {
		return nil, err
	}
	return &configChange{
		mode:   mode,
		typ:    eks.UpdateTypeAccessConfig,
		params: []v1alpha1.UpdateParam{{Type: eks.UpdateParamAuthenticationMode, Value: mode}},
	}, nil
}

// changeMode moves c's authentication mode to mode, one way only.
func changeMode(c *v1alpha1.Cluster, mode string) error {
	if err := eksinput.ModeChange(accessentries.Mode(c), mode); err != nil {
		return err
	}
	ac := v1alpha1.AccessConfig{}
	if c.Spec.AccessConfig != nil {
		ac = *c.Spec.AccessConfig
	}
	ac.AuthenticationMode = mode
	c.Spec.AccessConfig = &ac
	return nil
}

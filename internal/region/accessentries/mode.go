package accessentries

import (
	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
)

// Mode is a cluster's authentication mode, which decides whether its access
// entries count; clusters stored before accessConfig existed count as
// API_AND_CONFIG_MAP.
func Mode(c *v1alpha1.Cluster) string {
	if c.Spec.AccessConfig == nil {
		return v1alpha1.AuthenticationModeAPIAndConfigMap
	}
	return c.Spec.AccessConfig.AuthenticationMode
}

// SetMode moves c's authentication mode to mode, one way only.
func SetMode(c *v1alpha1.Cluster, mode string) error {
	if err := eksinput.ModeChange(Mode(c), mode); err != nil {
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

// Config is a cluster's accessConfig as DescribeCluster shows it.
func Config(c *v1alpha1.Cluster) *eks.AccessConfig {
	bootstrap := c.Spec.AccessConfig != nil && c.Spec.AccessConfig.BootstrapClusterCreatorAdminPermissions
	return &eks.AccessConfig{AuthenticationMode: Mode(c), BootstrapClusterCreatorAdminPermissions: &bootstrap}
}

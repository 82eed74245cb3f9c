package signin

import "github.com/cellplane/cellplane/api/v1alpha1"

// ClusterMode is the authentication mode the cell's copy of c carries in
// spec.accessConfig. Clusters stored before accessConfig existed have none
// and are served as API_AND_CONFIG_MAP, as the regional API describes them.
func ClusterMode(c *v1alpha1.Cluster) string {
	if c.Spec.AccessConfig == nil || c.Spec.AccessConfig.AuthenticationMode == "" {
		return v1alpha1.AuthenticationModeAPIAndConfigMap
	}
	return c.Spec.AccessConfig.AuthenticationMode
}

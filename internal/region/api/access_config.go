package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/accesspolicy"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// clusterAdminPolicy is the policy the cluster creator's bootstrap entry gets.
var clusterAdminPolicy = accesspolicy.ARNPrefix + "AmazonEKSClusterAdminPolicy"

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

// modeOf is a cluster's authentication mode; clusters stored before
// accessConfig existed count as API_AND_CONFIG_MAP.
func modeOf(c *v1alpha1.Cluster) string {
	if c.Spec.AccessConfig == nil {
		return v1alpha1.AuthenticationModeAPIAndConfigMap
	}
	return c.Spec.AccessConfig.AuthenticationMode
}

// accessConfigWire is a cluster's accessConfig as DescribeCluster shows it.
func accessConfigWire(c *v1alpha1.Cluster) *eks.AccessConfig {
	bootstrap := c.Spec.AccessConfig != nil && c.Spec.AccessConfig.BootstrapClusterCreatorAdminPermissions
	return &eks.AccessConfig{AuthenticationMode: modeOf(c), BootstrapClusterCreatorAdminPermissions: &bootstrap}
}

func sameAccessConfig(a, b *v1alpha1.AccessConfig) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// bootstrapCreator gives the cluster's creator a cluster-admin entry, when the
// cluster asks for one and its mode reads entries. It runs for a create and
// for its retries, so a create that stored the cluster but failed here heals
// on retry; an entry that exists is left as it is.
func (s *server) bootstrapCreator(ctx context.Context, c *v1alpha1.Cluster) error {
	ac := c.Spec.AccessConfig
	if ac == nil || !ac.BootstrapClusterCreatorAdminPermissions || ac.AuthenticationMode == v1alpha1.AuthenticationModeConfigMap || c.DeletionTimestamp != nil {
		return nil
	}
	creator := creatorOf(ctx, c.Labels[v1alpha1.LabelAccount])
	p, err := eksinput.ParsePrincipal(creator)
	if err != nil {
		return fmt.Errorf("bootstrapping the creator of cluster %s: %w", c.Spec.Name, err)
	}
	now := metav1.Now()
	spec := v1alpha1.AccessEntrySpec{
		ClusterName: c.Spec.Name, PrincipalARN: creator, Type: v1alpha1.AccessEntryTypeStandard,
		Username: eksinput.DefaultUsername(p), CreatedAt: now, ModifiedAt: now,
		AccessPolicies: []v1alpha1.AssociatedAccessPolicy{{
			PolicyARN: clusterAdminPolicy, Scope: v1alpha1.AccessScope{Type: v1alpha1.AccessScopeCluster},
			AssociatedAt: now, ModifiedAt: now,
		}},
	}
	err = s.store.Create(ctx, newEntryObject(c, spec))
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("storing the creator's access entry of cluster %s: %w", c.Spec.Name, err)
	}
	return nil
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
	if err := eksinput.ModeChange(modeOf(c), mode); err != nil {
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

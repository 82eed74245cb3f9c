package signin

import (
	"testing"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

func TestClusterMode(t *testing.T) {
	for _, c := range []struct {
		ac   *v1alpha1.AccessConfig
		want string
	}{
		{nil, v1alpha1.AuthenticationModeAPIAndConfigMap},
		{&v1alpha1.AccessConfig{}, v1alpha1.AuthenticationModeAPIAndConfigMap},
		{&v1alpha1.AccessConfig{AuthenticationMode: v1alpha1.AuthenticationModeAPI}, v1alpha1.AuthenticationModeAPI},
		{&v1alpha1.AccessConfig{AuthenticationMode: v1alpha1.AuthenticationModeConfigMap}, v1alpha1.AuthenticationModeConfigMap},
		{&v1alpha1.AccessConfig{AuthenticationMode: v1alpha1.AuthenticationModeAPIAndConfigMap}, v1alpha1.AuthenticationModeAPIAndConfigMap},
	} {
		cl := &v1alpha1.Cluster{Spec: v1alpha1.ClusterSpec{AccessConfig: c.ac}}
		if got := ClusterMode(cl); got != c.want {
			t.Errorf("ClusterMode(%+v) = %q, want %q", c.ac, got, c.want)
		}
	}
}

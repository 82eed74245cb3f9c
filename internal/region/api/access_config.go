package api

import (
	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
)

func sameAccessConfig(a, b *v1alpha1.AccessConfig) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

// accessChange is an AccessConfigUpdate, which eksinput validates and
// package accessentries applies.
func accessChange(in *eks.UpdateClusterConfigInput) (*configChange, error) {
	mode, err := eksinput.AccessConfigUpdate(in)
	if err != nil {
		return nil, err
	}
	return &configChange{
		mode:   mode,
		typ:    eks.UpdateTypeAccessConfig,
		params: []v1alpha1.UpdateParam{{Type: eks.UpdateParamAuthenticationMode, Value: mode}},
	}, nil
}

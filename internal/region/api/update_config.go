package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/region/accessentries"
)

// updateClusterConfig serves UpdateClusterConfig: POST /clusters/{name}/update-config.
// logging and resourcesVpcConfig mean nothing on this runtime: they are merged
// into the echoed create request, so DescribeCluster shows them, and the update
// is recorded as already Successful. deletionProtection is stored in the spec,
// takes effect at once, and is recorded as Successful too.
func (s *server) updateClusterConfig(r *http.Request) (any, error) {
	var in eks.UpdateClusterConfigInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	change, err := configChangeOf(&in)
	if err != nil {
		return nil, err
	}
	c, err := s.clusterOfRequest(r)
	if err != nil {
		return nil, err
	}
	if u, err := s.updateByToken(r.Context(), c, in.ClientRequestToken, change.typ, change.params); err != nil || u != nil {
		return updateOutput(u, err)
	}
	err = s.updateCluster(r.Context(), accountFor(r), c, func(c *v1alpha1.Cluster) error {
		if err := requireActive(c); err != nil {
			return err
		}
		if change.mode != "" {
			return accessentries.SetMode(c, change.mode)
		}
		if change.protect != nil {
			if c.Spec.DeletionProtection == *change.protect {
				return errNoChange
			}
			c.Spec.DeletionProtection = *change.protect
			return nil
		}
		if change.policy != nil {
			c.Spec.UpgradePolicy = change.policy
			return nil
		}
		echo, err := mergedEcho(c, change)
		if err != nil {
			return err
		}
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		c.Annotations[annotationEKSRequest] = echo
		return nil
	})
	if err != nil {
		return nil, err
	}
	spec := v1alpha1.ClusterUpdateSpec{Type: change.typ, Params: change.params, ClientRequestToken: in.ClientRequestToken}
	return updateOutput(s.recordUpdate(r.Context(), c, spec, v1alpha1.UpdateSuccessful))
}

// configChange is a validated UpdateClusterConfig request.
type configChange struct {
	logging, vpc json.RawMessage
	protect      *bool
	policy       *v1alpha1.UpgradePolicy
	mode         string // authentication mode of an AccessConfigUpdate
	typ          string
	params       []v1alpha1.UpdateParam
}

// vpcParams maps resourcesVpcConfig fields to the update parameters EKS reports.
var vpcParams = []struct{ field, param string }{
	{"endpointPublicAccess", eks.UpdateParamEndpointPublic},
	{"endpointPrivateAccess", eks.UpdateParamEndpointPrivate},
	{"publicAccessCidrs", eks.UpdateParamPublicAccessCidrs},
	{"subnetIds", eks.UpdateParamSubnets},
	{"securityGroupIds", eks.UpdateParamSecurityGroups},
}

// configChangeOf validates the request and names the update it makes.
func configChangeOf(in *eks.UpdateClusterConfigInput) (*configChange, error) {
	if err := eksinput.ValidateToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	if in.AccessConfig != nil {
		return accessChange(in)
	}
	if in.DeletionProtection != nil {
		return protectionChange(in)
	}
	if in.UpgradePolicy != nil {
		p, err := upgradePolicyOf(in.UpgradePolicy)
		if err != nil {
			return nil, err
		}
		return &configChange{policy: p, typ: eks.UpdateTypeUpgradePolicy,
			params: []v1alpha1.UpdateParam{{Type: eks.UpdateParamUpgradePolicy, Value: p.SupportType}}}, nil
	}
	var ch configChange
	var err error
	if ch.logging, err = eksinput.CompactObject("logging", in.Logging); err != nil {
		return nil, err
	}
	if ch.vpc, err = eksinput.CompactObject("resourcesVpcConfig", in.ResourcesVpcConfig); err != nil {
		return nil, err
	}
	if ch.logging != nil {
		ch.params = append(ch.params, v1alpha1.UpdateParam{Type: eks.UpdateParamClusterLogging, Value: loggingValue(ch.logging)})
	}
	if ch.vpc != nil {
		var fields map[string]json.RawMessage
		_ = json.Unmarshal(ch.vpc, &fields) // compactObject checked it is an object
		for _, p := range vpcParams {
			if v, ok := fields[p.field]; ok {
				ch.params = append(ch.params, v1alpha1.UpdateParam{Type: p.param, Value: unquote(v)})
			}
		}
	}
	switch {
	case ch.logging == nil && ch.vpc == nil:
		return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "The request changes nothing: pass logging, resourcesVpcConfig or deletionProtection (or accessConfig, on its own).")
	case ch.vpc == nil:
		ch.typ = eks.UpdateTypeLogging
	case ch.logging == nil && !slices.ContainsFunc(ch.params, isSubnetOrGroup):
		ch.typ = eks.UpdateTypeEndpointAccess
	default:
		ch.typ = eks.UpdateTypeConfig
	}
	return &ch, nil
}

// upgradePolicyOf validates an upgradePolicy; nil stays nil (EXTENDED).
func upgradePolicyOf(in *eks.UpgradePolicy) (*v1alpha1.UpgradePolicy, error) {
	if in == nil {
		return nil, nil
	}
	if in.SupportType != v1alpha1.SupportStandard && in.SupportType != v1alpha1.SupportExtended {
		return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "upgradePolicy.supportType must be STANDARD or EXTENDED; got %q.", in.SupportType)
	}
	return &v1alpha1.UpgradePolicy{SupportType: in.SupportType}, nil
}

// protectionChange is a DeletionProtectionUpdate. It is an update of its own,
// as in EKS's model: combined with logging or resourcesVpcConfig it would
// record one update for two changes.
func protectionChange(in *eks.UpdateClusterConfigInput) (*configChange, error) {
	for _, f := range []struct {
		name string
		raw  json.RawMessage
	}{{"logging", in.Logging}, {"resourcesVpcConfig", in.ResourcesVpcConfig}} {
		if raw := bytes.TrimSpace(f.raw); len(raw) > 0 && string(raw) != "null" {
			return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "deletionProtection is updated on its own: send %s in a separate UpdateClusterConfig request.", f.name)
		}
	}
	return &configChange{
		protect: in.DeletionProtection,
		typ:     eks.UpdateTypeDeletionProtection,
		params:  []v1alpha1.UpdateParam{{Type: eks.UpdateParamDeletionProtection, Value: strconv.FormatBool(*in.DeletionProtection)}},
	}, nil
}

func isSubnetOrGroup(p v1alpha1.UpdateParam) bool {
	return p.Type == eks.UpdateParamSubnets || p.Type == eks.UpdateParamSecurityGroups
}

// loggingValue is the ClusterLogging parameter: the clusterLogging list, as EKS
// reports it, or the whole object when it has none.
func loggingValue(logging json.RawMessage) string {
	var l struct {
		ClusterLogging json.RawMessage `json:"clusterLogging"`
	}
	if json.Unmarshal(logging, &l) == nil && l.ClusterLogging != nil {
		return string(l.ClusterLogging)
	}
	return string(logging)
}

// unquote returns a JSON string's contents, and any other JSON value as written.
func unquote(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(v)
}

// mergedEcho returns the cluster's echoed request with the change applied:
// logging replaced, resourcesVpcConfig merged field by field, as EKS keeps the
// fields an update does not name.
func mergedEcho(c *v1alpha1.Cluster, ch *configChange) (string, error) {
	e := echoedOf(c)
	if ch.logging != nil {
		e.Logging = ch.logging
	}
	if ch.vpc != nil {
		e.ResourcesVpcConfig = mergeObjects(e.ResourcesVpcConfig, ch.vpc)
	}
	return eksinput.EncodeEcho(e)
}

// mergeObjects overlays the top-level fields of patch on base, both JSON objects.
func mergeObjects(base, patch json.RawMessage) json.RawMessage {
	merged := map[string]json.RawMessage{}
	_ = json.Unmarshal(base, &merged) // an unreadable echo is replaced
	var p map[string]json.RawMessage
	_ = json.Unmarshal(patch, &p)
	for k, v := range p {
		merged[k] = v
	}
	b, _ := json.Marshal(merged) // raw messages that parsed always marshal
	var buf bytes.Buffer
	_ = json.Compact(&buf, b)
	return buf.Bytes()
}

// requireActive refuses to change a cluster that is not ACTIVE, as EKS does.
func requireActive(c *v1alpha1.Cluster) error {
	if st := wireStatus(c); st != eks.StatusActive {
		return errdefs.Publicf(errResourceInUse, "Cluster %s is %s; it can be updated only when ACTIVE.", c.Spec.Name, st)
	}
	return nil
}

// updateOutput wraps a stored update as the operations' answer.
func updateOutput(u *v1alpha1.ClusterUpdate, err error) (any, error) {
	if err != nil {
		return nil, err
	}
	return eks.UpdateOutput{Update: toWireUpdate(u)}, nil
}

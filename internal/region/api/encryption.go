package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/eks"
	"github.com/cellplane/cellplane/internal/eksinput"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/keyservice"
)

// KeyResolver finds the customer key a cluster's encryptionConfig names;
// keyservice.Store is the region's.
type KeyResolver interface {
	// Resolve returns what a cluster of account bound to keyARN holds of the
	// key. An unusable key (missing, another account's, disabled) is an
	// error keyservice.Unusable reports.
	Resolve(ctx context.Context, account, keyARN string) (v1alpha1.EncryptionSpec, error)
}

// resolveKey turns a key ARN into the cluster's encryption spec; a key the
// account cannot use is the caller's error, with the key service's reason.
func (s *server) resolveKey(ctx context.Context, account, keyARN string) (*v1alpha1.EncryptionSpec, error) {
	if s.keys == nil {
		return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "This region has no key service: encryptionConfig cannot be used.")
	}
	spec, err := s.keys.Resolve(ctx, account, keyARN)
	if keyservice.Unusable(err) {
		return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "The key in encryptionConfig cannot be used: %s.", err.Error())
	}
	if err != nil {
		return nil, fmt.Errorf("resolving key %s: %w", keyARN, err)
	}
	return &spec, nil
}

// withEncryption binds want to the key its create request names, if any.
func (s *server) withEncryption(ctx context.Context, account string, in *eks.CreateClusterInput, want *v1alpha1.Cluster) error {
	arn, err := eksinput.EncryptionKey(in.EncryptionConfig)
	if err != nil || arn == "" {
		return err
	}
	want.Spec.Encryption, err = s.resolveKey(ctx, account, arn)
	return err
}

func sameKey(a, b *v1alpha1.EncryptionSpec) bool {
	return (a == nil) == (b == nil) && (a == nil || a.KeyARN == b.KeyARN)
}

// associateEncryptionConfig serves AssociateEncryptionConfig:
// POST /clusters/{name}/encryption-config/associate. The key is stored in the
// spec at once; the update stays InProgress until the cell seals every Secret
// under a key of the cluster's named after it (see settleEncryptionUpdate).
func (s *server) associateEncryptionConfig(r *http.Request) (any, error) {
	var in eks.AssociateEncryptionConfigInput
	if err := eksinput.DecodeBody(r, &in); err != nil {
		return nil, err
	}
	if err := eksinput.ValidateToken(in.ClientRequestToken); err != nil {
		return nil, err
	}
	arn, err := eksinput.EncryptionKey(in.EncryptionConfig)
	if err != nil {
		return nil, err
	}
	if arn == "" {
		return nil, errdefs.Publicf(errdefs.ErrInvalidParameter, "encryptionConfig is required.")
	}
	c, err := s.clusterOfRequest(r)
	if err != nil {
		return nil, err
	}
	params, err := encryptionParams(in.EncryptionConfig)
	if err != nil {
		return nil, err
	}
	typ := eks.UpdateTypeAssociateEncryptionConfig
	if u, err := s.updateByToken(r.Context(), c, in.ClientRequestToken, typ, params); err != nil || u != nil {
		return updateOutput(u, err)
	}
	account := accountFor(r)
	spec, err := s.resolveKey(r.Context(), account, arn)
	if err != nil {
		return nil, err
	}
	err = s.updateCluster(r.Context(), account, c, func(c *v1alpha1.Cluster) error {
		if err := requireActive(c); err != nil {
			return err
		}
		switch {
		case c.Spec.Encryption == nil:
			c.Spec.Encryption = spec
			if in.ClientRequestToken != "" {
				if c.Annotations == nil {
					c.Annotations = map[string]string{}
				}
				c.Annotations[annotationAssociatedBy] = in.ClientRequestToken
			}
			return nil
		case in.ClientRequestToken != "" && c.Annotations[annotationAssociatedBy] == in.ClientRequestToken:
			// A retry of the call that stored the key, cut short before
			// it recorded its update.
			return errNoChange
		}
		return errdefs.Publicf(errdefs.ErrInvalidRequest, "Cluster %s already has an encryption config (key %s); it cannot be changed or removed.", c.Spec.Name, c.Spec.Encryption.KeyARN)
	})
	if err != nil {
		return nil, err
	}
	update := v1alpha1.ClusterUpdateSpec{Type: typ, Params: params, ClientRequestToken: in.ClientRequestToken}
	return updateOutput(s.recordUpdate(r.Context(), c, update, v1alpha1.UpdateInProgress))
}

// annotationAssociatedBy holds the clientRequestToken of the
// AssociateEncryptionConfig call that stored the cluster's key, written with
// the key: a retry of that call after a crash before its update was recorded
// records it, where any other call is refused.
const annotationAssociatedBy = "cellplane.io/encryption-associated-by"

// encryptionParams is the update's one parameter, the config as JSON, as EKS
// reports it.
func encryptionParams(cfgs []eks.EncryptionConfig) ([]v1alpha1.UpdateParam, error) {
	b, err := json.Marshal(cfgs)
	if err != nil {
		return nil, fmt.Errorf("encoding encryptionConfig: %w", err)
	}
	return []v1alpha1.UpdateParam{{Type: eks.UpdateParamEncryptionConfig, Value: string(b)}}, nil
}

// encryptionSettled reports whether the cell seals the cluster's Secrets
// under its key and has no rotation left to finish: the SecretsEncryption
// condition names a key of the cluster's made for the customer key.
func encryptionSettled(c *v1alpha1.Cluster) bool {
	e := c.Spec.Encryption
	cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionSecretsEncryption)
	return e != nil && cond != nil && cond.Status == metav1.ConditionTrue && cond.Reason == v1alpha1.ReasonSecretsSealed &&
		strings.Contains(cond.Message, e.KeyID+"/")
}

// settleEncryptionUpdate marks an AssociateEncryptionConfig update
// Successful once the cell has settled; reading the update is what moves
// it, so a region restarted in between still settles it.
func (s *server) settleEncryptionUpdate(ctx context.Context, u *v1alpha1.ClusterUpdate) {
	if u.Spec.Type != eks.UpdateTypeAssociateEncryptionConfig || u.Status.Status == v1alpha1.UpdateSuccessful {
		return
	}
	var c v1alpha1.Cluster
	if err := s.store.Get(ctx, client.ObjectKey{Namespace: u.Namespace, Name: u.Spec.ClusterName}, &c); err != nil || !encryptionSettled(&c) {
		return
	}
	u.Status.Status = v1alpha1.UpdateSuccessful
	if err := s.store.Status().Update(ctx, u); err != nil {
		s.log.Warn("recording the end of an encryption update", "update", u.Spec.ID, "err", err)
	}
}

// encryptionOf is the cluster's encryptionConfig as EKS shows it.
func encryptionOf(c *v1alpha1.Cluster) []eks.EncryptionConfig {
	if c.Spec.Encryption == nil {
		return nil
	}
	return []eks.EncryptionConfig{{Resources: []string{eks.ResourceSecrets}, Provider: &eks.Provider{KeyArn: c.Spec.Encryption.KeyARN}}}
}

// keyIssue is the health issue of a cluster whose key is disabled, as the
// cell reports it or, until it does, as the region copied it.
func keyIssue(c *v1alpha1.Cluster) *eks.ClusterIssue {
	e := c.Spec.Encryption
	cond := meta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionSecretsEncryption)
	cellSays := cond != nil && cond.Status == metav1.ConditionFalse && cond.Reason == v1alpha1.ReasonKeyDisabled
	if e == nil || (e.KeyState != v1alpha1.KeyStateDisabled && !cellSays) {
		return nil
	}
	return &eks.ClusterIssue{Code: eks.IssueKmsKeyDisabled, ResourceIDs: []string{e.KeyARN},
		Message: fmt.Sprintf("The KMS key %s is disabled: the cluster cannot write Secrets, nor read them once its API servers restart. Enable the key to recover.", e.KeyARN)}
}

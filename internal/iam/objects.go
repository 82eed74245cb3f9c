package iam

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/internal/account"
)

// How principals are laid out in the region store: one ConfigMap each, in
// the accounts' namespace, labelled with their kind and account so an
// account's users or roles are one label-selected list. The object name is a
// hash of the lower-cased name, so two names that differ only in case
// collide, as IAM names do, and any IAM name maps to a valid object name.
const (
	kindUserLabel = "iam-user"
	kindRoleLabel = "iam-role"
)

func labelOf(kind Kind) string {
	if kind == KindRole {
		return kindRoleLabel
	}
	return kindUserLabel
}

func objectName(accountID string, kind Kind, name string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(name)))
	return "iam" + string(kind) + "-" + accountID + "-" + hex.EncodeToString(sum[:16])
}

// TrustedPrincipal is one entry of a role's trust list: the ARN it was given
// as and the unique ID of the principal that had that ARN then.
type TrustedPrincipal struct {
	ARN string `json:"arn"`
	ID  string `json:"id"`
	// Current is false when the principal was deleted since (or replaced by
	// another of the same name): the entry then trusts nobody. Computed on
	// read, never stored.
	Current bool `json:"current"`
}

// record is what every principal's object holds.
type record struct {
	Account   string
	Kind      Kind
	Name      string
	ID        string
	CreatedAt time.Time
	Trust     []TrustedPrincipal
}

func (r record) configMap() (*corev1.ConfigMap, error) {
	trust, err := json.Marshal(r.Trust)
	if err != nil {
		return nil, fmt.Errorf("encoding the trust list: %w", err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name:      objectName(r.Account, r.Kind, r.Name),
			Namespace: account.Namespace,
			Labels:    map[string]string{account.LabelKind: labelOf(r.Kind), account.LabelAccount: r.Account},
		},
		Data: map[string]string{
			"account":   r.Account,
			"name":      r.Name,
			"id":        r.ID,
			"createdAt": r.CreatedAt.Format(time.RFC3339),
		},
	}
	if r.Kind == KindRole {
		cm.Data["trust"] = string(trust)
	}
	return cm, nil
}

func recordOf(cm *corev1.ConfigMap, kind Kind) (record, error) {
	if cm.Labels[account.LabelKind] != labelOf(kind) {
		return record{}, fmt.Errorf("configmap %s is not a cellplane %s", cm.Name, kind)
	}
	created, _ := time.Parse(time.RFC3339, cm.Data["createdAt"])
	r := record{Account: cm.Data["account"], Kind: kind, Name: cm.Data["name"], ID: cm.Data["id"], CreatedAt: created}
	if t := cm.Data["trust"]; t != "" {
		if err := json.Unmarshal([]byte(t), &r.Trust); err != nil {
			return record{}, fmt.Errorf("decoding the trust list of %s: %w", cm.Name, err)
		}
	}
	return r, nil
}

package account

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// How accounts and keys are laid out in the management store. Each is its own
// Secret so deleting an account's keys is a label-selected list and deletes.
const (
	Namespace    = "cellplane-system"
	LabelKind    = "cellplane.io/kind"
	LabelAccount = "cellplane.io/account"
	kindAccount  = "account"
	kindKey      = "accesskey"
)

func accountName(id string) string     { return "account-" + id }
func accessKeyName(akid string) string { return "accesskey-" + strings.ToLower(akid) }

func accountSecret(a Account) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      accountName(a.ID),
			Namespace: Namespace,
			Labels:    map[string]string{LabelKind: kindAccount, LabelAccount: a.ID},
		},
		Data: map[string][]byte{
			"name":      []byte(a.Name),
			"createdAt": []byte(a.CreatedAt.Format(time.RFC3339)),
		},
	}
}

func accountFromSecret(s *corev1.Secret) Account {
	return Account{
		ID:        strings.TrimPrefix(s.Name, "account-"),
		Name:      string(s.Data["name"]),
		CreatedAt: parseTime(s.Data["createdAt"]),
	}
}

// keySecret stores only the sealed secret; the plaintext never reaches the store.
func keySecret(k AccessKey, ciphertext, nonce []byte) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name:      accessKeyName(k.AccessKeyID),
			Namespace: Namespace,
			Labels:    map[string]string{LabelKind: kindKey, LabelAccount: k.Account},
		},
		Data: map[string][]byte{
			"account":    []byte(k.Account),
			"principal":  []byte(k.Principal),
			"ciphertext": ciphertext,
			"nonce":      nonce,
			"status":     []byte(k.Status),
			"createdAt":  []byte(k.CreatedAt.Format(time.RFC3339)),
		},
	}
}

// keyFromSecret is the key a Secret holds, without its secret. Keys stored
// before keys had a status are active; keys stored before principals belong
// to the account's admin user.
func keyFromSecret(s *corev1.Secret) AccessKey {
	status := KeyStatus(s.Data["status"])
	if status == "" {
		status = KeyActive
	}
	account := string(s.Data["account"])
	principal := string(s.Data["principal"])
	if principal == "" {
		principal = AdminUserARN(account)
	}
	return AccessKey{
		AccessKeyID: strings.ToUpper(strings.TrimPrefix(s.Name, "accesskey-")),
		Account:     account,
		Principal:   principal,
		Status:      status,
		CreatedAt:   parseTime(s.Data["createdAt"]),
	}
}

func parseTime(b []byte) time.Time {
	t, err := time.Parse(time.RFC3339, string(b))
	if err != nil {
		return time.Time{}
	}
	return t
}

func checkKind(s *corev1.Secret, kind string) error {
	if s.Labels[LabelKind] != kind {
		return fmt.Errorf("secret %s/%s is not a cellplane %s", s.Namespace, s.Name, kind)
	}
	return nil
}

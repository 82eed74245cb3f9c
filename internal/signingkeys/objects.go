package signingkeys

import (
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/internal/account"
)

// Where the signing keys live, in the region store and in every cell store:
// one Secret per access key.
const (
	Namespace = account.Namespace
	// LabelKind selects them; KindValue is its value.
	LabelKind = account.LabelKind
	KindValue = "signingkey"
	// Service is the service the keys are derived for.
	Service = "sts"
	// dayPrefix starts the data key of each day's signing key.
	dayPrefix = "day-"
)

// Selector is the label selector of the signing keys' Secrets.
func Selector() map[string]string { return map[string]string{LabelKind: KindValue} }

// Keys is one access key's published signing keys.
type Keys struct {
	AccessKeyID string
	Account     string
	Principal   string            // the IAM user's ARN
	Days        map[string][]byte // yyyymmdd → signing key
}

// Days are the days keys are published for around now: yesterday, today and
// tomorrow (UTC), so a token signed just before midnight, or by a client
// whose clock is a little ahead, still verifies.
func Days(now time.Time) []string {
	now = now.UTC()
	return []string{now.AddDate(0, 0, -1).Format("20060102"), now.Format("20060102"), now.AddDate(0, 0, 1).Format("20060102")}
}

// Name is the Secret's name for an access key.
func Name(akid string) string { return "signingkey-" + strings.ToLower(akid) }

// Secret renders k as its Secret.
func Secret(k Keys) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: Namespace, Name: Name(k.AccessKeyID),
			Labels: map[string]string{LabelKind: KindValue, account.LabelAccount: k.Account}},
		Data: map[string][]byte{"accessKeyId": []byte(k.AccessKeyID), "account": []byte(k.Account), "principal": []byte(k.Principal)},
	}
	for day, key := range k.Days {
		s.Data[dayPrefix+day] = key
	}
	return s
}

// FromSecret reads a Secret written by Secret.
func FromSecret(s *corev1.Secret) Keys {
	k := Keys{AccessKeyID: string(s.Data["accessKeyId"]), Account: string(s.Data["account"]),
		Principal: string(s.Data["principal"]), Days: map[string][]byte{}}
	for name, v := range s.Data {
		if day, ok := strings.CutPrefix(name, dayPrefix); ok {
			k.Days[day] = v
		}
	}
	return k
}

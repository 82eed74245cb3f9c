package tenant

import (
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// SetCondition sets condition typ of c, observed at c's generation.
func SetCondition(c *v1alpha1.Cluster, typ string, ok bool, reason, msg string) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&c.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: c.Generation,
	})
}

// ConditionFalse reports whether c's condition typ is set and False.
func ConditionFalse(c *v1alpha1.Cluster, typ string) (*metav1.Condition, bool) {
	cond := meta.FindStatusCondition(c.Status.Conditions, typ)
	return cond, cond != nil && cond.Status == metav1.ConditionFalse
}

// Pick returns yes when ok, else no: a condition's reason from its status.
func Pick(ok bool, yes, no string) string {
	if ok {
		return yes
	}
	return no
}

// ErrText is err's message, "" for nil.
func ErrText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// Time is t as a status time.
func Time(t time.Time) *metav1.Time {
	mt := metav1.NewTime(t)
	return &mt
}

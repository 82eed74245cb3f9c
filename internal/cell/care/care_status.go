package care

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// fillEtcdStatus puts what etcd said about itself into e: members, leader,
// quorum, quota and alarms. quota is the spec's, shown until a member reports
// its own.
func fillEtcdStatus(e *v1alpha1.EtcdStatus, cl etcdcare.Cluster, zones map[string]string, quota int64, now metav1.Time) {
	e.Members, e.Leader, e.Alarms = nil, "", nil
	e.Quorum, e.QuotaBytes, e.ObservedAt = cl.Quorum, quota, &now
	for _, m := range cl.Members {
		e.Members = append(e.Members, v1alpha1.EtcdMember{
			Name: m.Name, ID: memberID(m.ID), Zone: zones[m.Name], Leader: m.Leader, Learner: m.Learner,
			Healthy: m.Healthy(), DBSizeBytes: m.DBSize, DBSizeInUseBytes: m.DBSizeInUse, Error: tenant.ErrText(m.Err),
		})
		if m.Leader {
			e.Leader = m.Name
		}
		if m.Quota > 0 {
			e.QuotaBytes = m.Quota
		}
	}
	for _, a := range cl.Alarms {
		if s := a.Type.String(); !slices.Contains(e.Alarms, s) {
			e.Alarms = append(e.Alarms, s)
		}
	}
}

func memberID(id uint64) string {
	if id == 0 {
		return ""
	}
	return fmt.Sprintf("%x", id)
}

// memberName names member id from the measured status, or gives its ID.
func memberName(e *v1alpha1.EtcdStatus, id uint64) string {
	if id == 0 {
		return ""
	}
	for _, m := range e.Members {
		if m.ID == memberID(id) {
			return m.Name
		}
	}
	return memberID(id)
}

// etcdStatusChanged reports whether next is worth a write: it says something
// prev does not, or prev is older than statusRefresh.
func etcdStatusChanged(prev, next *v1alpha1.EtcdStatus, now time.Time) bool {
	if prev == nil || prev.ObservedAt == nil {
		return true
	}
	a, b := prev.DeepCopy(), next.DeepCopy()
	a.ObservedAt, b.ObservedAt = nil, nil
	return !equality.Semantic.DeepEqual(a, b) || now.Sub(prev.ObservedAt.Time) >= statusRefresh
}

// etcdStatusPatch is a JSON merge patch that replaces status.etcd and touches no
// other field, so it never undoes what the cluster lifecycle patches meanwhile.
// A merge patch keeps every field it leaves out, so the fields next leaves empty
// are sent as null: otherwise a cleared alarm or message would stay.
func etcdStatusPatch(next *v1alpha1.EtcdStatus) ([]byte, error) {
	b, err := json.Marshal(next)
	if err != nil {
		return nil, err
	}
	fields := map[string]any{}
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, err
	}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[v1alpha1.EtcdStatus]()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if _, ok := fields[name]; !ok && name != "" && name != "-" {
			fields[name] = nil
		}
	}
	return json.Marshal(map[string]any{"status": map[string]any{"etcd": fields}})
}

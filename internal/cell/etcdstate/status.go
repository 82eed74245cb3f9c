package etcdstate

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/controlplane"
)

// Show mirrors the records into c's status.etcdMembership: when etcd formed,
// and every member replacement with its phase. The records stay the truth
// (they survive a lost status patch); this is what operators read.
func Show(c *v1alpha1.Cluster, p *controlplane.Plan) error {
	r := For(p)
	var st v1alpha1.EtcdMembership
	if at := r.BootstrappedAt(); !at.IsZero() {
		st.BootstrappedAt = metaTime(at)
	}
	for _, m := range p.Members(controlplane.KindEtcd) {
		j, ok, err := r.Join(m.Name())
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		rep := v1alpha1.MemberReplacement{Member: m.Name(), LearnerID: fmt.Sprintf("%x", j.ID), Phase: v1alpha1.ReplacementJoining,
			StartedAt: metaTime(j.StartedAt), PromotedAt: metaTime(j.PromotedAt)}
		if j.Promoted {
			rep.Phase = v1alpha1.ReplacementPromoted
		}
		st.Replacements = append(st.Replacements, rep)
	}
	if st.BootstrappedAt == nil && st.Replacements == nil {
		c.Status.EtcdMembership = nil
		return nil
	}
	c.Status.EtcdMembership = &st
	return nil
}

// metaTime is t as a status time, nil when zero. Status times travel in
// whole seconds, so the record's are truncated to match what the store
// returns and an unchanged record compares equal.
func metaTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.Truncate(time.Second))
	return &mt
}

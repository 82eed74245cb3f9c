package etcdstate

import (
	"slices"
	"testing"

	"github.com/cellplane/cellplane/internal/controlplane"
)

func names(ms []controlplane.Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.Name())
	}
	return out
}

func TestReadDisksAndQuorumLost(t *testing.T) {
	for _, tc := range []struct {
		name       string
		data       []string        // zones whose member kept its data
		joins      map[string]Join // by zone
		lost       []string
		joining    []string
		quorumLost bool
	}{
		{name: "every member has data", data: []string{"a", "b", "c"}},
		{name: "one lost: the others replace it", data: []string{"a", "b"}, lost: []string{"etcd-c"}},
		{name: "two lost: only a restore helps", data: []string{"a"}, lost: []string{"etcd-b", "etcd-c"}, quorumLost: true},
		{name: "all lost", lost: []string{"etcd-a", "etcd-b", "etcd-c"}, quorumLost: true},
		{name: "one joining", data: []string{"a", "b"}, joins: map[string]Join{"c": {ID: 9}}, joining: []string{"etcd-c"}},
		// A learner does not vote: with one more member lost, two of three
		// cannot vote, and removing the lost one would need their quorum.
		{name: "one joining, one lost", data: []string{"a"}, joins: map[string]Join{"c": {ID: 9}},
			lost: []string{"etcd-b"}, joining: []string{"etcd-c"}, quorumLost: true},
		{name: "promoted, with data", data: []string{"a", "b", "c"}, joins: map[string]Join{"c": {ID: 9, Promoted: true}}},
		{name: "promoted, then lost again", data: []string{"a", "b"}, joins: map[string]Join{"c": {ID: 9, Promoted: true}},
			lost: []string{"etcd-c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := testPlan(t)
			for _, z := range tc.data {
				giveData(t, p, etcdMember(t, p, z))
			}
			for z, j := range tc.joins {
				must(t, For(p).SaveJoin(etcdMember(t, p, z).Name(), j))
			}
			d, err := ReadDisks(p)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(names(d.Lost), tc.lost) || !slices.Equal(names(d.Joining), tc.joining) {
				t.Errorf("lost %v, joining %v; want %v, %v", names(d.Lost), names(d.Joining), tc.lost, tc.joining)
			}
			for _, m := range d.Joining {
				if d.Joins[m.Name()] != tc.joins[m.Zone] {
					t.Errorf("record of %s = %+v, want %+v", m.Name(), d.Joins[m.Name()], tc.joins[m.Zone])
				}
			}
			if got := d.QuorumLost(len(p.Members(controlplane.KindEtcd))); got != tc.quorumLost {
				t.Errorf("QuorumLost = %v, want %v", got, tc.quorumLost)
			}
		})
	}
}

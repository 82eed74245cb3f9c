package etcdstate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/cellplane/cellplane/internal/controlplane"
)

// Join is a member replacement in progress or done: the learner's ID, and
// whether it has been promoted to a voter.
type Join struct {
	ID       uint64 `json:"id"`
	Promoted bool   `json:"promoted"`
	// StartedAt and PromotedAt are for operators; records written before
	// they existed have neither.
	StartedAt  time.Time `json:"startedAt,omitzero"`
	PromotedAt time.Time `json:"promotedAt,omitzero"`
}

// Join returns member's replacement record; ok is false when it has none.
func (r Records) Join(member string) (j Join, ok bool, err error) {
	ok, err = r.readJSON(&j, stateDir, member+joinSuffix)
	if err != nil {
		return j, false, fmt.Errorf("reading the replacement record of %s: %w", member, err)
	}
	return j, ok, nil
}

// SaveJoin records member's replacement.
func (r Records) SaveJoin(member string, j Join) error {
	if err := r.writeJSON(j, stateDir, member+joinSuffix); err != nil {
		return fmt.Errorf("recording the replacement of %s: %w", member, err)
	}
	return nil
}

// ClearJoin forgets member's replacement: a restore made the members the
// snapshot's again, with their original IDs.
func (r Records) ClearJoin(member string) error {
	err := os.Remove(r.path(stateDir, member+joinSuffix))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("clearing the replacement record of %s: %w", member, err)
	}
	return nil
}

// Joined names the members that were ever added back as learners: they start
// with --initial-cluster-state=existing (controlplane.Input.EtcdJoined).
func (r Records) Joined() []string {
	paths, _ := filepath.Glob(filepath.Join(r.path(stateDir), "*"+joinSuffix))
	var out []string
	for _, path := range paths {
		out = append(out, strings.TrimSuffix(filepath.Base(path), joinSuffix))
	}
	slices.Sort(out)
	return out
}

// Joined is Records.Joined of the cluster in clusterDir; tenant.Layout takes it.
func Joined(clusterDir string) []string { return ForDir(clusterDir).Joined() }

// HasData reports whether dataDir holds a write-ahead log segment: what a
// member needs to rejoin its cluster as itself.
func HasData(dataDir string) bool {
	segs, err := filepath.Glob(filepath.Join(dataDir, "member", "wal", "*.wal"))
	return err == nil && len(segs) > 0
}

// Disks is what the data directories and records say about each etcd member.
type Disks struct {
	Lost    []controlplane.Member // no data, and no replacement under way
	Joining []controlplane.Member // added back as a learner, not yet promoted
	Joins   map[string]Join       // the records of the joining members
}

// ReadDisks looks at every etcd member of p.
func ReadDisks(p *controlplane.Plan) (Disks, error) {
	r := For(p)
	d := Disks{Joins: map[string]Join{}}
	for _, m := range p.Members(controlplane.KindEtcd) {
		j, ok, err := r.Join(m.Name())
		if err != nil {
			return d, err
		}
		switch {
		case ok && !j.Promoted:
			d.Joins[m.Name()] = j
			d.Joining = append(d.Joining, m)
		case !HasData(p.EtcdDataDir(m)):
			d.Lost = append(d.Lost, m)
		}
	}
	return d, nil
}

// QuorumLost reports whether too few of members kept their data for the
// cluster to go on: only a restore from backup can bring it back.
func (d Disks) QuorumLost(members int) bool {
	return len(d.Lost)+len(d.Joining) > 0 && members-len(d.Lost)-len(d.Joining) <= members/2
}

package operator

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/datadir"
)

// Backups is the operator's view of a data directory's backups: it reads the
// catalog from the configured storage directly, and asks for on-demand fulls
// and restores through the region store.
type Backups struct {
	client  *Client
	storage backup.Storage
	store   objstore.Store
}

// Backups opens the backup storage the data directory's cells use, as `up`
// last configured it; it needs no running cellplane.
func (c *Client) Backups() (*Backups, error) {
	cfg, err := datadir.LoadBackupConfig(c.dataDir)
	if err != nil {
		return nil, err
	}
	st := datadir.BackupStorage(c.dataDir, cfg)
	store, err := st.Open()
	if err != nil {
		return nil, fmt.Errorf("opening backup storage: %w", err)
	}
	return &Backups{client: c, storage: st, store: store}, nil
}

// BackupSet is one set of a cluster's backups: one per cluster UID, so a
// deleted cluster's backups stay apart from a new one's of the same name.
type BackupSet struct {
	UID           string
	Location      string
	Catalog       backup.Catalog
	Latest        *backup.Plan // nil without a full
	RecoveryPoint time.Time    // zero when unknown
}

// List returns every backup set of account's cluster name, the newest first.
// It works while cellplane is down and after the cluster is deleted.
func (b *Backups) List(ctx context.Context, account, name string) ([]BackupSet, error) {
	prefix := backup.ClusterPrefix(v1alpha1.Namespace(account), v1alpha1.ObjectName(name))
	objs, err := b.store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("listing backups: %w", err)
	}
	var uids []string
	for _, o := range objs {
		uid, _, _ := strings.Cut(strings.TrimPrefix(o.Key, prefix), "/")
		if !slices.Contains(uids, uid) {
			uids = append(uids, uid)
		}
	}
	var sets []BackupSet
	for _, uid := range uids {
		s, err := b.listSet(ctx, prefix+uid+"/")
		if err != nil {
			return nil, err
		}
		s.UID = uid
		sets = append(sets, s)
	}
	slices.SortFunc(sets, func(x, y BackupSet) int { return y.RecoveryPoint.Compare(x.RecoveryPoint) })
	return sets, nil
}

func (b *Backups) listSet(ctx context.Context, prefix string) (BackupSet, error) {
	set := backup.NewAt(b.store, nil, prefix)
	c, err := set.List(ctx)
	if err != nil {
		return BackupSet{}, err
	}
	out := BackupSet{Location: b.storage.Location(prefix), Catalog: c}
	if p, err := c.Latest(); err == nil {
		out.Latest = &p
		out.RecoveryPoint, _ = set.RecoveryPoint(ctx, p)
	}
	return out, nil
}

// Request asks the cell running account's cluster name for a full backup now
// and returns the time of the request: the full is taken once the cluster's
// status.backup.lastFullTime is after it.
func (b *Backups) Request(ctx context.Context, account, name string) (time.Time, error) {
	return b.client.requestOfActive(ctx, account, name, v1alpha1.AnnotationBackupRequested, "a backup")
}

// Status returns the backup status the region holds for the cluster.
func (b *Backups) Status(ctx context.Context, account, name string) (*v1alpha1.BackupStatus, error) {
	c, err := b.client.regionCluster(ctx, account, name)
	if err != nil {
		return nil, err
	}
	return c.Status.Backup, nil
}

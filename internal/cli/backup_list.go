package cli

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/operator"
)

// backupJSON is one backup in `backup list -o json`.
type backupJSON struct {
	ID       string    `json:"id"`
	Kind     string    `json:"kind"`
	First    int64     `json:"firstRevision,omitempty"`
	Revision int64     `json:"revision"`
	Time     time.Time `json:"time"`
	Bytes    int64     `json:"bytes"`
}

// backupSetJSON is one cluster UID's set in `backup list -o json`.
type backupSetJSON struct {
	UID           string       `json:"uid"`
	Location      string       `json:"location"`
	Revision      int64        `json:"revision,omitempty"`
	RecoveryPoint *time.Time   `json:"recoveryPointTime,omitempty"`
	Backups       []backupJSON `json:"backups"`
}

func newBackupList(g *globals, f *backupFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list CLUSTER",
		Short: "List a cluster's full and incremental backups and its recovery point",
		Long: `List the backups of a cluster, read from the backup storage directly: it works
while cellplane is down and after the cluster was deleted. Each cluster that ever
had the name has its own set, told apart by UID. Only backups that were stored
completely (with a manifest) are listed. The recovery point is the time by which
every acknowledged write is in the backups.`,
		Args: clikit.ExactlyOne("cluster name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := g.backups()
			if err != nil {
				return err
			}
			sets, err := b.List(cmd.Context(), f.account, args[0])
			if err != nil {
				return err
			}
			if g.Output == "json" {
				return g.PrintJSON(map[string]any{"sets": backupSetsJSON(sets)})
			}
			if len(sets) == 0 {
				g.Printf("no backups of %s\n", args[0])
				return nil
			}
			for _, s := range sets {
				if err := g.printBackupSet(s); err != nil {
					return err
				}
			}
			return nil
		},
	}
}

func entriesOf(c backup.Catalog) []backup.Entry {
	return append(append([]backup.Entry{}, c.Fulls...), c.Incrementals...)
}

func backupSetsJSON(sets []operator.BackupSet) []backupSetJSON {
	out := make([]backupSetJSON, 0, len(sets))
	for _, s := range sets {
		j := backupSetJSON{UID: s.UID, Location: s.Location, Backups: []backupJSON{}}
		if s.Latest != nil {
			j.Revision = s.Latest.Revision
		}
		if !s.RecoveryPoint.IsZero() {
			j.RecoveryPoint = &s.RecoveryPoint
		}
		for _, e := range entriesOf(s.Catalog) {
			j.Backups = append(j.Backups, backupJSON{ID: e.ID(), Kind: string(e.Kind), First: e.First, Revision: e.Revision, Time: e.Created, Bytes: e.Size})
		}
		out = append(out, j)
	}
	return out
}

func (g *globals) printBackupSet(s operator.BackupSet) error {
	g.Printf("set %s at %s\n", s.UID, s.Location)
	w := g.Table()
	w.Println("ID\tKIND\tREVISIONS\tTIME\tBYTES")
	for _, e := range entriesOf(s.Catalog) {
		revs := fmt.Sprint(e.Revision)
		if e.Kind == backup.KindIncremental {
			revs = fmt.Sprintf("%d-%d", e.First, e.Revision)
		}
		w.Printf("%s\t%s\t%s\t%s\t%d\n", e.ID(), e.Kind, revs, e.Created.UTC().Format(time.RFC3339), e.Size)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	switch {
	case s.Latest == nil:
		g.Printf("no full backup yet: nothing to restore\n")
	case s.RecoveryPoint.IsZero():
		g.Printf("restorable to revision %d\n", s.Latest.Revision)
	default:
		g.Printf("restorable to revision %d; recovery point %s (%s ago)\n", s.Latest.Revision,
			s.RecoveryPoint.UTC().Format(time.RFC3339Nano), time.Since(s.RecoveryPoint).Round(100*time.Millisecond))
	}
	return nil
}

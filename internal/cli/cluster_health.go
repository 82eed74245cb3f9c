package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/eks"
)

func newClusterHealth(g *globals) *cobra.Command {
	return describing(g, "health NAME", "Show a cluster's etcd health and backups, as its cell last measured them",
		func(cl *eks.Cluster) error { return g.showHealth(healthOf(g.operatorView(cl), time.Now())) })
}

// health is what `cluster health` shows: the cell's measurements and the
// figures derived from them.
type health struct {
	Cluster string          `json:"cluster"`
	Status  string          `json:"status"`
	Etcd    *eks.EtcdHealth `json:"etcd,omitempty"`
	// QuotaUsedPercent is the largest member backend as a share of the quota;
	// etcd raises NOSPACE at 100.
	QuotaUsedPercent float64 `json:"quotaUsedPercent"`
	// FragmentationPercent is the largest share of a member's backend that
	// defragmentation would free.
	FragmentationPercent float64     `json:"fragmentationPercent"`
	Backup               *eks.Backup `json:"backup,omitempty"`
	// RecoveryPointSeconds is how much recent writing a restore would lose now.
	RecoveryPointSeconds *float64 `json:"recoveryPointSeconds,omitempty"`
	// Restore is the last restore of etcd, if there was one: in place, or
	// from another cluster's backups when this one was created.
	Restore *eks.Restore `json:"restore,omitempty"`
}

func healthOf(cl *eks.Cluster, now time.Time) health {
	h := health{Cluster: cl.Name, Status: cl.Status}
	if cl.Cellplane == nil {
		return h
	}
	h.Etcd, h.Backup, h.Restore = cl.Cellplane.Etcd, cl.Cellplane.Backup, cl.Cellplane.Restore
	if e := h.Etcd; e != nil {
		for _, m := range e.Members {
			if e.QuotaBytes > 0 {
				h.QuotaUsedPercent = max(h.QuotaUsedPercent, percent(m.DBSizeBytes, e.QuotaBytes))
			}
			h.FragmentationPercent = max(h.FragmentationPercent, fragmentation(m))
		}
	}
	if b := h.Backup; b != nil && b.RecoveryPointTime != nil {
		rp := now.Sub(b.RecoveryPointTime.Time()).Seconds()
		h.RecoveryPointSeconds = &rp
	}
	return h
}

func fragmentation(m eks.EtcdMember) float64 {
	if m.DBSizeBytes <= 0 {
		return 0
	}
	return percent(m.DBSizeBytes-m.DBSizeInUseBytes, m.DBSizeBytes)
}

func percent(part, whole int64) float64 { return 100 * float64(part) / float64(whole) }

func (g *globals) showHealth(h health) error {
	if g.Output == "json" {
		return g.PrintJSON(h)
	}
	w := g.Table()
	w.Printf("Cluster:\t%s (%s)\n", h.Cluster, h.Status)
	if h.Etcd == nil {
		w.Println("Etcd:\tnot measured yet")
	} else {
		writeEtcd(w, h)
	}
	if h.Backup != nil {
		writeBackup(w, h)
	}
	if r := h.Restore; r != nil {
		w.Println("\nLast restore:")
		writeRestore(w, r)
	}
	return w.Flush()
}

// writeRestore shows a restore: in place, or the one a cluster was created by.
func writeRestore(w *clikit.Table, r *eks.Restore) {
	w.Printf("Phase:\t%s (%s), started %s\n", r.Phase, r.Reason, agoOrNever(r.StartedAt))
	w.Printf("From:\tset %s, full at revision %d, incrementals to %d\n", orDash(r.Set), r.FullRevision, r.Revision)
	w.Printf("Message:\t%s\n", orDash(r.Message))
}

func writeEtcd(w *clikit.Table, h health) {
	e := h.Etcd
	w.Printf("Observed:\t%s\n", agoOrNever(e.ObservedAt))
	w.Printf("Quorum:\t%t\n", e.Quorum)
	w.Printf("Leader:\t%s\n", orDash(e.Leader))
	w.Printf("Quota:\t%s, %.0f%% used by the largest member\n", iecBytes(e.QuotaBytes), h.QuotaUsedPercent)
	w.Printf("Fragmentation:\t%.0f%% (largest member)\n", h.FragmentationPercent)
	w.Printf("Alarms:\t%s\n", orDash(strings.Join(e.Alarms, ", ")))
	w.Printf("Last defragmentation:\t%s\n", agoOrNever(e.LastDefragmentation))
	w.Printf("Last compaction:\t%s\n", agoOrNever(e.LastCompaction))
	w.Printf("Message:\t%s\n", orDash(e.Message))
	w.Println("\nMEMBER\tZONE\tID\tLEADER\tHEALTHY\tDB SIZE\tIN USE\tERROR")
	for _, m := range e.Members {
		w.Printf("%s\t%s\t%s\t%t\t%t\t%s\t%s\t%s\n", m.Name, orDash(m.Zone), orDash(m.ID), m.Leader,
			m.Healthy, iecBytes(m.DBSizeBytes), iecBytes(m.DBSizeInUseBytes), orDash(m.Error))
	}
}

func writeBackup(w *clikit.Table, h health) {
	b := h.Backup
	w.Println("\nBackup:")
	w.Printf("Location:\t%s\n", orDash(b.Location))
	w.Printf("Last success:\t%s\n", agoOrNever(b.LastSuccessTime))
	w.Printf("Last full:\t%s, %s at revision %d (%d kept)\n", agoOrNever(b.LastFullTime), iecBytes(b.LastFullBytes), b.LastFullRevision, b.Fulls)
	w.Printf("Revision:\t%d\n", b.Revision)
	rp := "-"
	if h.RecoveryPointSeconds != nil {
		rp = (time.Duration(*h.RecoveryPointSeconds * float64(time.Second))).Round(time.Second).String()
	}
	w.Printf("Recovery point:\t%s\n", rp)
	if b.LastError != "" {
		w.Printf("Last error:\t%s\n", b.LastError)
	}
}

// since prints how long ago t was, or "never".
func agoOrNever(t *eks.Timestamp) string {
	if t == nil {
		return "never"
	}
	return time.Since(t.Time()).Round(time.Second).String() + " ago"
}

// byteSize prints a size in binary units, as quotas are given.
func iecBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

package backups

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/etcdcare"
)

// Backup defaults.
const (
	DefaultFullInterval = time.Hour
	// DefaultStatusInterval spaces status patches: each flush changes the
	// recovery point, and a patch per flush per cluster would load the store.
	DefaultStatusInterval = 2 * time.Second
	// pollInterval is how often the runner looks for clusters to start or
	// stop backing up, and how often a worker checks for an on-demand request.
	pollInterval = time.Second
	// retryDelay spaces attempts after a failed cycle.
	retryDelay = 5 * time.Second
)

// Config tunes the backup runner; zero fields take the defaults.
type Config struct {
	// FullInterval is how old the last full may get before a new one is taken.
	FullInterval time.Duration
	// FlushInterval is how often incrementals are stored: the recovery point.
	FlushInterval time.Duration
	// StatusInterval is the least time between two status patches of a cluster.
	StatusInterval time.Duration
	Retention      backup.Retention
}

func (c Config) withDefaults() Config {
	c.FullInterval = cmp.Or(c.FullInterval, DefaultFullInterval)
	c.FlushInterval = cmp.Or(c.FlushInterval, etcdcare.DefaultFlushInterval)
	c.StatusInterval = cmp.Or(c.StatusInterval, DefaultStatusInterval)
	return c
}

// Runner backs up every running cluster of the cell continuously: one
// worker per cluster takes full snapshots and stores incrementals between them
// (see worker). It is a manager Runnable that looks at the cell's clusters
// every second and starts and stops workers; a Runnable rather than a
// reconciler, because a worker is a long-lived loop, not a step.
//
// Deleting a cluster stops its worker but leaves its backups: they outlive the
// cluster so it can be restored, and retention of deleted clusters' sets is an
// operator's decision, not this runner's.
type Runner struct {
	Client   client.Client // the cell's store
	Layout   tenant.Layout
	Storage  backup.Storage
	Store    objstore.Store
	KMS      envelope.KMS
	SpoolDir string // temporary files for uploads; empty means os.TempDir()
	// Dial returns the cluster's etcd, shared with the rest of the cell.
	Dial Dialer
	// SecretsKeys returns the cluster's keys for Secrets in the clear, which
	// its set carries sealed so that a restore can read its Secrets; nil
	// stores none.
	SecretsKeys func(ctx context.Context, p *controlplane.Plan) ([]byte, error)
	Config      Config
	Logger      *slog.Logger

	workers map[types.UID]*worker
}

// Start runs until ctx ends, then stops every worker.
func (r *Runner) Start(ctx context.Context) error {
	r.Config = r.Config.withDefaults()
	r.workers = map[types.UID]*worker{}
	defer r.stopAll()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		r.sync(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// sync starts a worker for every cluster that should be backed up and stops the
// others'.
func (r *Runner) sync(ctx context.Context) {
	var list v1alpha1.ClusterList
	if err := r.Client.List(ctx, &list); err != nil {
		r.Logger.Warn("listing clusters to back up", "err", err)
		return
	}
	keep := map[types.UID]bool{}
	for i := range list.Items {
		c := &list.Items[i]
		w, running := r.workers[c.UID]
		if !wantBackups(c, running) {
			continue
		}
		keep[c.UID] = true
		if running && !w.exited() {
			continue
		}
		r.workers[c.UID] = r.startWorker(ctx, c)
	}
	for uid, w := range r.workers {
		if !keep[uid] {
			w.stop()
			delete(r.workers, uid)
		}
	}
}

// wantBackups: from the first time a cluster is ACTIVE until it is deleted or
// fails. A worker keeps going while the cluster is, say, UPDATING.
func wantBackups(c *v1alpha1.Cluster, running bool) bool {
	if !c.DeletionTimestamp.IsZero() || c.Status.Slot == nil {
		return false
	}
	switch c.Status.Status {
	case v1alpha1.StatusActive:
		return true
	case v1alpha1.StatusDeleting, v1alpha1.StatusFailed:
		return false
	}
	return running
}

func (r *Runner) startWorker(ctx context.Context, c *v1alpha1.Cluster) *worker {
	ref := backup.Ref{Namespace: c.Namespace, Name: c.Name, UID: string(c.UID)}
	set := backup.New(r.Store, r.KMS, ref)
	set.TempDir = r.SpoolDir
	set.Logger = tenant.Logger(r.Logger, c)
	w := &worker{
		r: r, key: types.NamespacedName{Namespace: c.Namespace, Name: c.Name}, set: set, plan: r.Layout.Addresses(c),
		location: r.Storage.Location(ref.Prefix()), setUID: ref.UID,
		log:  tenant.Logger(r.Logger, c),
		done: make(chan struct{}),
	}
	wctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	go w.run(wctx)
	return w
}

func (r *Runner) stopAll() {
	for _, w := range r.workers {
		w.cancel()
	}
	for _, w := range r.workers {
		<-w.done
	}
}

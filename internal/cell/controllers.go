package cell

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/cluster"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/cellplane/cellplane/api/v1alpha1"

	"github.com/cellplane/cellplane/internal/backup/envelope"
	"github.com/cellplane/cellplane/internal/cell/accessentries"
	"github.com/cellplane/cellplane/internal/cell/addons"
	"github.com/cellplane/cellplane/internal/cell/agent"
	"github.com/cellplane/cellplane/internal/cell/apihealth"
	"github.com/cellplane/cellplane/internal/cell/backups"
	"github.com/cellplane/cellplane/internal/cell/bringup"
	"github.com/cellplane/cellplane/internal/cell/care"
	"github.com/cellplane/cellplane/internal/cell/carotation"
	"github.com/cellplane/cellplane/internal/cell/certroll"
	"github.com/cellplane/cellplane/internal/cell/endpoint"
	"github.com/cellplane/cellplane/internal/cell/etcdstate"
	"github.com/cellplane/cellplane/internal/cell/identityproviders"
	"github.com/cellplane/cellplane/internal/cell/insights"
	"github.com/cellplane/cellplane/internal/cell/lifecycle"
	"github.com/cellplane/cellplane/internal/cell/members"
	"github.com/cellplane/cellplane/internal/cell/nodegroups"
	"github.com/cellplane/cellplane/internal/cell/restore"
	"github.com/cellplane/cellplane/internal/cell/rollout"
	"github.com/cellplane/cellplane/internal/cell/secrets"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/cell/zones"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/datadir"
	insightcalc "github.com/cellplane/cellplane/internal/insights"
	"github.com/cellplane/cellplane/internal/logging"
	"github.com/cellplane/cellplane/internal/platform"
)

// layout is how the cell runs its control planes.
func (p *proc) layout() tenant.Layout {
	l := tenant.Layout{Dir: p.dir, Cell: p.addrs, GoawayChance: p.cfg.Tuning.GoawayChance, RuntimeConfig: p.cfg.Tuning.runtimeConfigs(),
		ZoneNetNS: p.zoneNS, Joined: etcdstate.Joined, Cellplane: p.exe,
		Isolation: p.isolation, SignIn: p.signIn}
	if p.secrets != nil {
		l.SecretsKeys = p.secrets.Encoded
	}
	return l
}

// controllers builds the manager of the cell's controllers: the cluster
// lifecycle with its concerns (restores, member replacement), etcd care and
// backups, all sharing one etcd connection per cluster. It reads and writes
// the cell's store only, never the region's.
func (p *proc) controllers() (manager.Manager, error) {
	mgr, err := p.newManager(p.store.RESTConfig())
	if err != nil {
		return nil, err
	}
	bk, err := p.backups()
	if err != nil {
		return nil, err
	}
	if p.secrets, err = secrets.Open(datadir.SecretsKEKFile(p.cfg.DataDir)); err != nil {
		return nil, err
	}
	if p.exe, err = os.Executable(); err != nil {
		return nil, fmt.Errorf("finding cellplane executable: %w", err)
	}
	layout := p.layout()
	layout.Platforms = platform.Catalog{Store: mgr.GetClient()}
	ep := &endpoint.Writer{Dir: p.lbDir(), Zones: p.shifts}
	replay := func(pl *controlplane.Plan) (restore.ReplayTarget, error) { return p.pool.Get(pl) }
	meter := &bringup.CPUMeter{}
	if err := mgr.Add(manager.RunnableFunc(meter.Run)); err != nil {
		return nil, fmt.Errorf("starting the CPU meter: %w", err)
	}
	r := &lifecycle.Reconciler{
		Client: mgr.GetClient(), Layout: layout, Endpoint: ep, Runner: p.runtime, Binaries: p.cache, Logger: p.log,
		CreateTimeout: p.cfg.CreateTimeout, Exits: p.exits, Zones: p.shifts, Released: p.pool.Release,
		Etcd: func(pl *controlplane.Plan) (rollout.Values, error) { return p.pool.Get(pl) },
		Concerns: []tenant.Concern{
			&restore.FromBackup{Backups: bk, Dial: replay, Logger: p.log},
			// After FromBackup, which chooses the backups whose keys it imports.
			&secrets.Concern{Keys: p.secrets, Store: bk.Store, BackupKMS: bk.KMS, Logger: p.log,
				Dial: func(pl *controlplane.Plan) (secrets.Etcd, error) { return p.pool.Get(pl) }},
			&restore.InPlace{Backups: bk, Dial: replay, Runner: p.runtime, Logger: p.log},
			&members.Replacer{Dial: func(pl *controlplane.Plan) (members.Membership, error) { return p.pool.Get(pl) },
				Runner: p.runtime, Logger: p.log},
			// Before the Roller, which rolls out a trust bundle it changed.
			&carotation.Concern{Runner: p.runtime, Logger: p.log},
			&certroll.Roller{Runner: p.runtime, Logger: p.log},
			&identityproviders.Concern{Logger: p.log},
		},
		Certs: p.cfg.Tuning.Certs.Renewal(), KubeconfigCertLifetime: p.cfg.Tuning.Certs.Kubeconfig(),
		Evacuator: &zones.Evacuator{Client: mgr.GetClient(), Shifts: p.shifts, Layout: layout, Endpoint: ep, Runner: p.runtime, Logger: p.log},
		BringUps: bringup.NewGate(bringup.Config{Slots: cmp.Or(p.cfg.Tuning.BringUpSlots, bringup.AutoSlots(runtime.NumCPU())),
			Meter: meter, Lister: mgr.GetClient()}),
	}
	if err := r.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up cluster controller: %w", err)
	}
	cr := &care.Reconciler{Client: mgr.GetClient(), Layout: layout, Logger: p.log, Defrag: p.cfg.Tuning.defragPolicy(), Zones: p.shifts,
		Dial: func(pl *controlplane.Plan) (care.Etcd, error) { return p.pool.Get(pl) }}
	if err := cr.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up etcd care: %w", err)
	}
	cacheDir := p.cfg.CacheDir
	if cacheDir == "" {
		cacheDir = components.DefaultCacheDir()
	}
	ngr := &nodegroups.Reconciler{Client: mgr.GetClient(), Layout: layout, Runner: p.runtime, Binaries: p.cache, Logger: p.log,
		ImagesDir: filepath.Join(cacheDir, "node-images")}
	if err := ngr.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up node groups: %w", err)
	}
	if err := p.setupBackups(mgr, bk); err != nil {
		return nil, fmt.Errorf("setting up backups: %w", err)
	}
	ir := &insights.Reconciler{Client: mgr.GetClient(), Gather: &insights.Sources{Client: mgr.GetClient(), Layout: layout},
		CompatibleAddons: insights.Catalogue, Logger: p.log.With("component", "insights"),
		Rollback: func(c *v1alpha1.Cluster) *insightcalc.Verdict { return rollout.RollbackReadiness(c, time.Now()) }}
	if err := ir.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up insights: %w", err)
	}
	ar := &addons.Reconciler{Client: mgr.GetClient(), Tenants: &addons.Tenants{Client: mgr.GetClient()}, Logger: p.log.With("component", "addons")}
	if err := ar.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up add-ons: %w", err)
	}
	return mgr, nil
}

// backups opens the storage and key the cell backs up with; restores read
// their source's backups through the same.
func (p *proc) backups() (*restore.Backups, error) {
	st := datadir.BackupStorage(p.cfg.DataDir, p.cfg.Backup)
	store, err := st.Open()
	if err != nil {
		return nil, fmt.Errorf("opening backup storage: %w", err)
	}
	kms, err := envelope.NewLocalKMS(datadir.BackupKEKFile(p.cfg.DataDir))
	if err != nil {
		return nil, fmt.Errorf("loading backup key: %w", err)
	}
	return &restore.Backups{Storage: st, Store: store, KMS: kms}, nil
}

// setupBackups registers the cell's backup runner on its controller manager. All
// cells of a data directory share one storage location and one key-encryption
// key; each cluster's set lives under its own prefix.
func (p *proc) setupBackups(mgr manager.Manager, b *restore.Backups) error {
	// Spool files left by a crash are never resumed; this cell's lock makes it
	// the only process using the directory.
	spool := filepath.Join(p.dir, "backup-spool")
	if err := os.RemoveAll(spool); err != nil {
		return fmt.Errorf("clearing backup spool: %w", err)
	}
	if err := os.MkdirAll(spool, 0o700); err != nil {
		return fmt.Errorf("creating backup spool: %w", err)
	}
	return mgr.Add(&backups.Runner{
		Client: mgr.GetClient(), Layout: p.layout(), Storage: b.Storage, Store: b.Store, KMS: b.KMS,
		SpoolDir: spool, Config: backups.Config{FullInterval: p.cfg.Backup.FullInterval},
		Dial:        func(pl *controlplane.Plan) (backups.Source, error) { return p.pool.Get(pl) },
		SecretsKeys: p.secrets.ForBackup,
		Logger:      p.log.With("component", "backups"),
	})
}

// agent builds the manager that syncs the cell with the region: the clusters the
// region placed here, their status and kubeconfigs, and the cell's heartbeat.
func (p *proc) agent() (manager.Manager, error) {
	mgr, err := p.newManager(p.store.RESTConfig())
	if err != nil {
		return nil, err
	}
	region, err := cluster.New(datadir.RegionStore(p.cfg.DataDir, p.block), func(o *cluster.Options) {
		o.Scheme = mgr.GetScheme()
		o.Logger = logging.Quiet(p.log)
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to region store: %w", err)
	}
	if err := mgr.Add(region); err != nil {
		return nil, err
	}
	if err := p.mirrorSigningKeys(mgr); err != nil {
		return nil, err
	}
	a := &agent.Agent{Region: region, Cell: mgr.GetClient(), CellName: p.name}
	if err := a.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up agent: %w", err)
	}
	entries := &accessentries.Mirror{Region: region, Cell: mgr.GetClient(), CellName: p.name}
	if err := entries.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the access entry mirror: %w", err)
	}
	if err := (&addons.Mirror{Region: region, Cell: mgr.GetClient(), CellName: p.name}).SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the add-on mirror: %w", err)
	}
	groups := &nodegroups.Mirror{Region: region, Cell: mgr.GetClient(), CellName: p.name}
	if err := groups.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("setting up the node group mirror: %w", err)
	}
	probes := &apihealth.Prober{Cell: mgr.GetClient(), Logger: p.log}
	if err := mgr.Add(probes); err != nil {
		return nil, fmt.Errorf("adding the API prober: %w", err)
	}
	hb := &agent.Heartbeat{
		Region: region.GetClient(), Cell: mgr.GetClient(), CellName: p.name, Logger: p.log,
		Store: p.store.RESTConfig().Host, LoadBalancer: p.lbStatusAddr(), Zones: p.shifts, ZoneNet: p.zoneNet,
		APIHealth: probes,
	}
	return mgr, mgr.Add(hb)
}

// mirrorSigningKeys adds the agent's mirror of the region's signing keys,
// on a view of the region store of its own that caches no other Secret.
func (p *proc) mirrorSigningKeys(mgr manager.Manager) error {
	keys, err := cluster.New(datadir.RegionStore(p.cfg.DataDir, p.block), func(o *cluster.Options) {
		o.Scheme = mgr.GetScheme()
		o.Logger = logging.Quiet(p.log)
		agent.SigningKeysCache(o)
	})
	if err != nil {
		return fmt.Errorf("connecting to region store: %w", err)
	}
	if err := mgr.Add(keys); err != nil {
		return err
	}
	if err := (&agent.SigningKeys{Region: keys, Cell: mgr.GetClient()}).SetupWithManager(mgr); err != nil {
		return fmt.Errorf("setting up the signing keys mirror: %w", err)
	}
	return nil
}

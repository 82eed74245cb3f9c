package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// BackupConfig says where the cells store clusters' backups and how often they
// take full snapshots. Without an S3 bucket, backups go to <data-dir>/backups.
// Every backup is sealed with a per-cluster data key wrapped by the key in
// <data-dir>/keys/backup-kek.
type BackupConfig struct {
	S3Endpoint string `json:"s3Endpoint,omitempty"`
	S3Region   string `json:"s3Region,omitempty"`
	S3Bucket   string `json:"s3Bucket,omitempty"`
	S3Prefix   string `json:"s3Prefix,omitempty"`
	S3CAFile   string `json:"s3CAFile,omitempty"`
	// The credentials never appear in a process's arguments: cells get them in
	// their environment, operator commands from the data directory's 0600 copy
	// of this configuration.
	S3AccessKeyID     string `json:"s3AccessKeyID,omitempty"`
	S3SecretAccessKey string `json:"s3SecretAccessKey,omitempty"`
	// FullInterval is how often a full snapshot is taken; zero means hourly.
	FullInterval time.Duration `json:"fullInterval,omitempty"`
}

// defaultS3Region signs requests when none is given: what S3-compatible servers
// such as MinIO accept.
const defaultS3Region = "us-east-1"

// Validate checks the configuration without connecting.
func (b BackupConfig) Validate() error {
	if b.FullInterval < 0 {
		return fmt.Errorf("%w: negative backup full interval", ErrInvalidConfig)
	}
	if b.S3Bucket == "" {
		if b.S3Endpoint != "" || b.S3Prefix != "" || b.S3CAFile != "" {
			return fmt.Errorf("%w: S3 backup settings given without --backup-s3-bucket", ErrInvalidConfig)
		}
		return nil
	}
	if err := b.s3().Validate(); err != nil {
		return fmt.Errorf("%w: backups: %w", ErrInvalidConfig, err)
	}
	return nil
}

func (b BackupConfig) s3() objstore.S3Config {
	region := b.S3Region
	if region == "" {
		region = defaultS3Region
	}
	return objstore.S3Config{
		Endpoint: b.S3Endpoint, Region: region, Bucket: b.S3Bucket, Prefix: b.S3Prefix, CAFile: b.S3CAFile,
		AccessKeyID: b.S3AccessKeyID, SecretAccessKey: b.S3SecretAccessKey,
		UsePathStyle: b.S3Endpoint != "",
	}
}

// storage is where the backups of dataDir's cells go.
func (b BackupConfig) storage(dataDir string) backup.Storage {
	st := backup.Storage{Dir: filepath.Join(dataDir, "backups")}
	if b.S3Bucket != "" {
		s3 := b.s3()
		st.S3 = &s3
	}
	return st
}

// args are the non-secret settings as `cell run` flags; the credentials go in
// env, so a change of either restarts the cell with the new configuration.
func (b BackupConfig) args() []string {
	var out []string
	for _, f := range []struct{ flag, v string }{
		{"--backup-s3-endpoint", b.S3Endpoint}, {"--backup-s3-region", b.S3Region}, {"--backup-s3-bucket", b.S3Bucket},
		{"--backup-s3-prefix", b.S3Prefix}, {"--backup-s3-ca-file", b.S3CAFile},
	} {
		if f.v != "" {
			out = append(out, f.flag, f.v)
		}
	}
	if b.FullInterval > 0 {
		out = append(out, "--backup-full-interval", b.FullInterval.String())
	}
	return out
}

// withEnv adds the S3 credentials to the cell's environment env (nil meaning
// PATH and HOME only). Without S3 it returns env as it is, which keeps the
// cell's spec, and so its process, what it always was.
func (b BackupConfig) withEnv(env []string) []string {
	if b.S3Bucket == "" {
		return env
	}
	if env == nil {
		for _, k := range []string{"PATH", "HOME"} {
			if v, ok := os.LookupEnv(k); ok {
				env = append(env, k+"="+v)
			}
		}
	}
	return append(env, EnvS3AccessKeyID+"="+b.S3AccessKeyID, EnvS3SecretAccessKey+"="+b.S3SecretAccessKey)
}

// The environment variables that carry S3 credentials to `cellplane up` and to
// the cells: the AWS SDKs' own names.
const (
	EnvS3AccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvS3SecretAccessKey = "AWS_SECRET_ACCESS_KEY"
)

// BackupKEKFile holds the key-encryption key of a data directory's backups.
func BackupKEKFile(dataDir string) string { return filepath.Join(dataDir, "keys", "backup-kek") }

// backupConfigFile is the last configuration `cellplane up` ran with, for
// operator commands; it holds the S3 credentials, hence mode 0600.
func backupConfigFile(dataDir string) string { return filepath.Join(dataDir, "backup-config.json") }

func saveBackupConfig(dataDir string, b BackupConfig) error {
	data, err := json.MarshalIndent(b, "", "  ")
	if err != nil {
		return err
	}
	tmp := backupConfigFile(dataDir) + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("saving backup configuration: %w", err)
	}
	if err := os.Rename(tmp, backupConfigFile(dataDir)); err != nil {
		return fmt.Errorf("saving backup configuration: %w", err)
	}
	return nil
}

// loadBackupConfig reads the saved configuration; none means the default.
func loadBackupConfig(dataDir string) (BackupConfig, error) {
	var b BackupConfig
	data, err := os.ReadFile(backupConfigFile(dataDir))
	if errors.Is(err, fs.ErrNotExist) {
		return b, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &b)
	}
	if err != nil {
		return b, fmt.Errorf("reading backup configuration: %w", err)
	}
	return b, nil
}

// Backups is the operator's view of a data directory's backups: it reads the
// catalog from the configured storage directly, and asks for on-demand fulls
// through the region store, like Accounts.
type Backups struct {
	dataDir string
	storage backup.Storage
	store   objstore.Store
}

// BackupsFor opens the backup storage dataDir's cells use.
func BackupsFor(dataDir string) (*Backups, error) {
	cfg, err := loadBackupConfig(dataDir)
	if err != nil {
		return nil, err
	}
	st := cfg.storage(dataDir)
	store, err := st.Open()
	if err != nil {
		return nil, fmt.Errorf("opening backup storage: %w", err)
	}
	return &Backups{dataDir: dataDir, storage: st, store: store}, nil
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
	cl, err := regionClient(b.dataDir)
	if err != nil {
		return time.Time{}, err
	}
	c, err := b.cluster(ctx, cl, account, name)
	if err != nil {
		return time.Time{}, err
	}
	if c.Status.Status != v1alpha1.StatusActive {
		return time.Time{}, fmt.Errorf("%w: cluster %s is %s, not ACTIVE", errdefs.ErrInvalidRequest, name, c.Status.Status)
	}
	now := time.Now().UTC()
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"annotations": map[string]string{
		v1alpha1.AnnotationBackupRequested: now.Format(time.RFC3339Nano)}}})
	if err := cl.Patch(ctx, c, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return time.Time{}, fmt.Errorf("requesting a backup: %w", err)
	}
	return now, nil
}

// Status returns the backup status the region holds for the cluster.
func (b *Backups) Status(ctx context.Context, account, name string) (*v1alpha1.BackupStatus, error) {
	c, err := b.regionCluster(ctx, account, name)
	if err != nil {
		return nil, err
	}
	return c.Status.Backup, nil
}

// regionCluster reads the cluster as the region holds it.
func (b *Backups) regionCluster(ctx context.Context, account, name string) (*v1alpha1.Cluster, error) {
	cl, err := regionClient(b.dataDir)
	if err != nil {
		return nil, err
	}
	return b.cluster(ctx, cl, account, name)
}

func (b *Backups) cluster(ctx context.Context, cl client.Client, account, name string) (*v1alpha1.Cluster, error) {
	c := &v1alpha1.Cluster{}
	key := types.NamespacedName{Namespace: v1alpha1.Namespace(account), Name: v1alpha1.ObjectName(name)}
	if err := cl.Get(ctx, key, c); err != nil {
		if client.IgnoreNotFound(err) == nil {
			return nil, fmt.Errorf("%w: no cluster %q in account %s", errdefs.ErrNotFound, name, account)
		}
		return nil, fmt.Errorf("reading cluster %s: %w", name, err)
	}
	return c, nil
}

package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/cell/tenant"
	"github.com/cellplane/cellplane/internal/cli/clikit"
	"github.com/cellplane/cellplane/internal/components"
	"github.com/cellplane/cellplane/internal/datadir"
	"github.com/cellplane/cellplane/internal/region"
)

func newUp(g *globals) *cobra.Command {
	var cfg region.Config
	var verbose, zoneNamespaces bool
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start cellplane on this machine: the regional API and its cells, each with zones a, b and c",
		Long: `Start cellplane in the foreground on its embedded default: a region and one cell
(or --cells N) on loopback addresses. The region and each cell have their own store;
each cell runs as its own process, so it keeps healing its clusters while the region
is down. Components are built on first use. Ctrl-C stops cellplane; tenant control
planes keep running, and the next 'cellplane up' on the same data directory adopts them.`,
		Args: clikit.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg.DataDir = g.DataDir
			if cmd.Flags().Changed("zone-namespaces") {
				cfg.ZoneNamespaces = &zoneNamespaces
			}
			backupCredentialsFromEnv(&cfg.Backup)
			return runUp(cmd.Context(), g, cfg, verbose)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.AddressBlock, "address-block", "", "loopback block 127.N for this instance (default "+datadir.DefaultAddressBlock+", remembered by the data directory)")
	f.IntVar(&cfg.Cells, "cells", 0, fmt.Sprintf("how many cells to run, 1 to %d (default 1, remembered by the data directory; cells can be added, not removed)", region.MaxCells))
	f.StringVar(&cfg.CacheDir, "cache-dir", components.DefaultCacheDir(), "where built components are cached")
	f.DurationVar(&cfg.CreateTimeout, "create-timeout", 5*time.Minute, "how long a control plane may take to become healthy before it is FAILED")
	f.BoolVar(&zoneNamespaces, "zone-namespaces", false, "run each zone of every cell in its own network namespace, so that 'cellplane zone fault' can cut, blackhole or slow it (needs root; chosen when the data directory is created)")
	f.BoolVarP(&verbose, "verbose", "v", false, "log debug detail")
	addBackupFlags(f, &cfg.Backup)
	cfg.Tuning.AddFlags(f)
	cfg.API.AddFlags(f)
	f.StringVar(&cfg.Backup.S3AccessKeyID, "backup-s3-access-key-id", "", "S3 access key ID for backups (default $"+backup.EnvS3AccessKeyID+")")
	f.StringVar(&cfg.Backup.S3SecretAccessKey, "backup-s3-secret-access-key", "", "S3 secret access key for backups (default $"+backup.EnvS3SecretAccessKey+"; prefer the variable: flags show in process lists)")
	return cmd
}

// addBackupFlags adds the non-secret backup settings, shared by up and cell run.
func addBackupFlags(f *pflag.FlagSet, b *backup.Config) {
	f.StringVar(&b.S3Endpoint, "backup-s3-endpoint", "", "S3 endpoint URL for backups (default: AWS); backups go to <data-dir>/backups without --backup-s3-bucket")
	f.StringVar(&b.S3Region, "backup-s3-region", "", "S3 region for backups (default us-east-1)")
	f.StringVar(&b.S3Bucket, "backup-s3-bucket", "", "S3 bucket for backups; it must exist")
	f.StringVar(&b.S3Prefix, "backup-s3-prefix", "", "folder of the bucket that holds the backups")
	f.StringVar(&b.S3CAFile, "backup-s3-ca-file", "", "PEM bundle to trust for the S3 endpoint instead of the system roots")
	f.DurationVar(&b.FullInterval, "backup-full-interval", 0, "how often each cluster gets a full snapshot, incrementals running in between (default 1h)")
}

// backupCredentialsFromEnv fills in S3 credentials not given as flags.
func backupCredentialsFromEnv(b *backup.Config) {
	if b.S3AccessKeyID == "" {
		b.S3AccessKeyID = os.Getenv(backup.EnvS3AccessKeyID)
	}
	if b.S3SecretAccessKey == "" {
		b.S3SecretAccessKey = os.Getenv(backup.EnvS3SecretAccessKey)
	}
}

func runUp(ctx context.Context, g *globals, cfg region.Config, verbose bool) error {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	cfg.Logger = slog.New(slog.NewTextHandler(g.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Progress = g.Stderr
	// Said first: isolation is what keeps one tenant's processes from
	// another's files, and an operator should know at once when it is off.
	if _, err := tenant.DetectIsolation(); err != nil {
		g.Note("warning: %v\n", err)
	}
	start := time.Now()
	svc, err := region.Start(ctx, cfg)
	if err != nil {
		return err
	}
	printWelcome(g, cfg, svc, time.Since(start))
	select {
	case <-ctx.Done():
	case err = <-svc.Done():
		cfg.Logger.Error("stopping after a fatal error", "err", err)
	}
	cfg.Logger.Info("stopping cellplane; tenant control planes keep running")
	closeCtx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if cerr := svc.Close(closeCtx); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func printWelcome(g *globals, cfg region.Config, svc *region.Service, took time.Duration) {
	kube, _ := components.New(components.Config{CacheDir: cfg.CacheDir}).Tools(context.Background(), components.Default())
	g.Note(`
cellplane is up (%s) — data directory %s
  regional API  %s
  cells         %d ('cellplane cell list'; logs in %s)

Create your first cluster:
  cellplane cluster create demo --wait
  cellplane cluster kubeconfig demo --output demo.kubeconfig
  %s --kubeconfig demo.kubeconfig get namespaces

The AWS SDKs and CLI speak to it with the profile written for the first account:
  export AWS_CONFIG_FILE=%s AWS_SHARED_CREDENTIALS_FILE=%s AWS_PROFILE=%s AWS_CA_BUNDLE=%s

Press Ctrl-C to stop cellplane; tenant control planes keep running.
`, took.Round(100*time.Millisecond), cfg.DataDir, svc.Endpoint().URL, svc.CellCount(), filepath.Dir(datadir.CellDir(cfg.DataDir, 1)), kube.Kubectl,
		datadir.AWSConfigFile(cfg.DataDir), datadir.AWSCredentialsFile(cfg.DataDir), datadir.Profile, svc.Endpoint().CAFile)
}

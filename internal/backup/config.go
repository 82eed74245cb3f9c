package backup

import (
	"fmt"
	"time"

	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/errdefs"
)

// Config says where the cells store clusters' backups and how often they
// take full snapshots: `cellplane up` flags, saved in the data directory for
// operator commands. Without an S3 bucket, backups go to a directory of the
// data directory.
type Config struct {
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
func (b Config) Validate() error {
	if b.FullInterval < 0 {
		return fmt.Errorf("%w: negative backup full interval", errdefs.ErrInvalidConfig)
	}
	if b.S3Bucket == "" {
		if b.S3Endpoint != "" || b.S3Prefix != "" || b.S3CAFile != "" {
			return fmt.Errorf("%w: S3 backup settings given without --backup-s3-bucket", errdefs.ErrInvalidConfig)
		}
		return nil
	}
	if err := b.s3().Validate(); err != nil {
		return fmt.Errorf("%w: backups: %w", errdefs.ErrInvalidConfig, err)
	}
	return nil
}

func (b Config) s3() objstore.S3Config {
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

// Storage is where the backups go: S3 when a bucket is set, else dir.
func (b Config) Storage(dir string) Storage {
	st := Storage{Dir: dir}
	if b.S3Bucket != "" {
		s3 := b.s3()
		st.S3 = &s3
	}
	return st
}

// The environment variables that carry S3 credentials to `cellplane up` and to
// the cells: the AWS SDKs' own names.
const (
	EnvS3AccessKeyID     = "AWS_ACCESS_KEY_ID"
	EnvS3SecretAccessKey = "AWS_SECRET_ACCESS_KEY" //nolint:gosec // G101: the variable's name, not a secret
)

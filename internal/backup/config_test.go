package backup

import (
	"errors"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestConfigValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg Config
		ok  bool
	}{
		"default: the data directory": {Config{}, true},
		"S3": {Config{S3Endpoint: "http://127.0.0.1:9000", S3Bucket: "b", S3Prefix: "p",
			S3AccessKeyID: "AKID", S3SecretAccessKey: "very-secret", FullInterval: 10 * time.Minute}, true},
		"no credentials":   {Config{S3Bucket: "b"}, false},
		"prefix no bucket": {Config{S3Prefix: "p"}, false},
		"bad endpoint":     {Config{S3Bucket: "b", S3Endpoint: "ftp://x", S3AccessKeyID: "a", S3SecretAccessKey: "s"}, false},
		"negative":         {Config{FullInterval: -time.Second}, false},
	} {
		t.Run(name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, errdefs.ErrInvalidConfig)) {
				t.Fatalf("Validate = %v, want ok=%v or ErrInvalidConfig", err, tc.ok)
			}
		})
	}
}

func TestConfigStorage(t *testing.T) {
	if st := (Config{}).Storage("/data/backups"); st.S3 != nil || st.Dir != "/data/backups" {
		t.Errorf("storage without a bucket = %+v, want the directory", st)
	}
	st := Config{S3Bucket: "b", S3Prefix: "p"}.Storage("/data/backups")
	if st.S3 == nil || st.S3.Region != defaultS3Region || st.Location("clusters/a/b/u/") != "s3://b/p/clusters/a/b/u/" {
		t.Errorf("storage with a bucket = %+v, location %s", st, st.Location("clusters/a/b/u/"))
	}
}

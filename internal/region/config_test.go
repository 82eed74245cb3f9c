package region

import (
	"errors"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/backup"
	"github.com/cellplane/cellplane/internal/cell"
	"github.com/cellplane/cellplane/internal/errdefs"
	"github.com/cellplane/cellplane/internal/ipam"
)

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"minimal", Config{DataDir: "/data"}, true},
		{"full", Config{DataDir: "/data", AddressBlock: "127.120", CreateTimeout: time.Minute}, true},
		{"empty data dir", Config{}, false},
		{"bad block", Config{DataDir: "/data", AddressBlock: "10.1"}, false},
		{"block without room for its cell", Config{DataDir: "/data", AddressBlock: "127.254"}, false},
		{"block zero", Config{DataDir: "/data", AddressBlock: "127.0"}, false},
		{"negative timeout", Config{DataDir: "/data", CreateTimeout: -time.Second}, false},
		{"two cells", Config{DataDir: "/data", Cells: 2}, true},
		{"too many cells", Config{DataDir: "/data", Cells: MaxCells + 1}, false},
		{"negative cells", Config{DataDir: "/data", Cells: -1}, false},
		{"block without room for its cells", Config{DataDir: "/data", AddressBlock: "127.252", Cells: 3}, false},
		// The cells' tuning and backups are checked before anything starts, too.
		{"bad tuning", Config{DataDir: "/data", Tuning: cell.Tuning{GoawayChance: 0.5}}, false},
		{"bad backups", Config{DataDir: "/data", Backup: backup.Config{S3Prefix: "p"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, errdefs.ErrInvalidConfig) {
				t.Fatalf("Validate = %v, not ErrInvalidConfig", err)
			}
		})
	}
	err := (&Config{DataDir: "/data", AddressBlock: "10.1"}).Validate()
	if !errors.Is(err, ipam.ErrInvalidBlock) {
		t.Errorf("bad block error %v does not wrap ipam.ErrInvalidBlock", err)
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{DataDir: "/data/./x/"}.withDefaults()
	if c.DataDir != "/data/x" || c.Logger == nil || c.Progress == nil {
		t.Fatalf("withDefaults = %+v", c)
	}
	if c.Tuning != cell.DefaultTuning() {
		t.Errorf("tuning = %+v, want the cells' defaults %+v", c.Tuning, cell.DefaultTuning())
	}
}

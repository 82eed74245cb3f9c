package machine

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
)

// RunFromFile runs the machine the JSON Config at path describes until ctx
// ends, then stops it. It first removes what a machine of the same name
// and directory left (a runner that died with it), so a restart starts
// clean. This is the body of a process a node group's runner supervises:
// the process lives as long as the machine.
func RunFromFile(ctx context.Context, path string, log *slog.Logger) error {
	b, err := os.ReadFile(path) //nolint:gosec // G304: the configuration the cell wrote for this machine
	if err != nil {
		return fmt.Errorf("reading machine configuration: %w", err)
	}
	var cfg Config
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("reading machine configuration %s: %w", path, err)
	}
	cfg.Log = log
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := Remove(cfg.Name, cfg.Dir); err != nil {
		return fmt.Errorf("removing what machine %s left: %w", cfg.Name, err)
	}
	m, err := Start(ctx, cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return m.Stop()
}

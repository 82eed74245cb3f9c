package process

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// pidFile is what survives cellplane: enough to find the process again
// (PID plus start time, immune to PID reuse) and to tell whether it still
// runs the wanted spec.
type pidFile struct {
	PID       int       `json:"pid"`
	StartTime uint64    `json:"startTime"`
	SpecHash  string    `json:"specHash"`
	Path      string    `json:"path"`
	StartedAt time.Time `json:"startedAt"`
}

func (p pidFile) alive() bool { return Alive(p.PID, p.StartTime) }

func readPIDFile(path string) (pidFile, error) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: pid files live in the runtime's own directories (Spec.pidPath)
	if err != nil {
		return pidFile{}, fmt.Errorf("reading pid file: %w", err)
	}
	var p pidFile
	if err := json.Unmarshal(b, &p); err != nil {
		return pidFile{}, fmt.Errorf("parsing pid file %s: %w", path, err)
	}
	return p, nil
}

// writePIDFile replaces path atomically, so a crash mid-write never leaves
// a truncated file that would orphan a running process.
func writePIDFile(path string, p pidFile) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encoding pid file: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*") // created 0600
	if err != nil {
		return fmt.Errorf("writing pid file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // no-op after a successful rename; otherwise the write's error is returned
	if err := writeSync(tmp, b); err != nil {
		return fmt.Errorf("writing pid file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("writing pid file: %w", err)
	}
	return nil
}

func writeSync(f *os.File, b []byte) error {
	_, err := f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func removePIDFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing pid file: %w", err)
	}
	return nil
}

// ReadPID returns the process ID a pid file names, if that process still runs.
// Tools and tests use it to find a process the runtime manages.
func ReadPID(path string) (int, error) {
	p, err := readPIDFile(path)
	if err != nil {
		return 0, err
	}
	if !p.alive() {
		return 0, fmt.Errorf("process %d of %s is not running", p.PID, path)
	}
	return p.PID, nil
}

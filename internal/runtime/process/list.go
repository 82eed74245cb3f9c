package process

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Recorded is a running process that a pid file records.
type Recorded struct {
	// StateDir and Name locate the pid file (StateDir/Name.pid), as in Spec:
	// Spec{ID: ..., StateDir: r.StateDir, Name: r.Name} is what Runtime.Stop needs.
	StateDir  string
	Name      string
	PID       int
	Path      string // the binary the process runs
	StartedAt time.Time
}

// PIDFile is the path of the pid file that records the process.
func (r Recorded) PIDFile() string { return filepath.Join(r.StateDir, r.Name+".pid") }

// Running walks root for pid files and returns the processes they record that
// still run, in the walk's (lexical) order. A process is listed only when its PID
// has the start time the pid file recorded and its command line starts with the
// binary the pid file names: the start time rules out a recycled PID, the command
// line a pid file copied from elsewhere or otherwise pointing at a stranger. Pid
// files that cannot be read are skipped, as they cannot lead to a process.
func Running(root string) ([]Recorded, error) {
	var out []Recorded
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path != root && errors.Is(err, fs.ErrNotExist) {
				return nil // removed while we walked: a cluster being deleted
			}
			return err
		}
		if d.Type().IsRegular() && strings.HasSuffix(d.Name(), ".pid") {
			if r, ok := running(path); ok {
				out = append(out, r)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing pid files under %s: %w", root, err)
	}
	return out, nil
}

func running(path string) (Recorded, bool) {
	p, err := readPIDFile(path)
	if err != nil || !p.alive() || !runsBinary(p.PID, p.Path) {
		return Recorded{}, false
	}
	return Recorded{
		StateDir: filepath.Dir(path), Name: strings.TrimSuffix(filepath.Base(path), ".pid"),
		PID: p.PID, Path: p.Path, StartedAt: p.StartedAt,
	}, true
}

// runsBinary reports whether pid's command line starts with path. start runs
// every process with argv[0] set to its Spec's Path, and findOrphan adopts only
// exact command lines, so every process a pid file rightly names passes.
func runsBinary(pid int, path string) bool {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || len(raw) == 0 {
		return false
	}
	return path != "" && splitCmdline(raw)[0] == path
}

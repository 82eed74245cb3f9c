package process

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procStat holds the fields of /proc/<pid>/stat this package relies on.
type procStat struct {
	state     byte   // field 3
	pgid      int    // field 5
	session   int    // field 6
	startTime uint64 // field 22, clock ticks since boot
}

// readStat parses /proc/<pid>/stat. The command name (field 2) may contain
// spaces and parentheses, so fields are counted from the last ')'.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStat{}, fmt.Errorf("reading stat of pid %d: %w", pid, err)
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("parsing stat of pid %d: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 { // f[0] is field 3, so field 22 is f[19]
		return procStat{}, fmt.Errorf("parsing stat of pid %d: %d fields", pid, len(f))
	}
	return parseStatFields(pid, f)
}

func parseStatFields(pid int, f []string) (procStat, error) {
	pgid, err1 := strconv.Atoi(f[2])
	sid, err2 := strconv.Atoi(f[3])
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return procStat{}, fmt.Errorf("parsing stat of pid %d: %w", pid, err)
	}
	return procStat{state: f[0][0], pgid: pgid, session: sid, startTime: start}, nil
}

// exited reports whether the kernel has finished with the process apart from
// its exit status: a zombie no longer runs anything and ignores signals.
func (s procStat) exited() bool { return s.state == 'Z' || s.state == 'X' || s.state == 'x' }

// Alive reports whether pid is a running process that started at startTime
// (field 22 of /proc/<pid>/stat). Comparing the start time is what keeps a
// recycled PID from being mistaken for the process we launched.
func Alive(pid int, startTime uint64) bool {
	if pid <= 0 {
		return false
	}
	st, err := readStat(pid)
	return err == nil && !st.exited() && st.startTime == startTime
}

// StartTime returns pid's kernel start time (field 22 of /proc/<pid>/stat), the
// value Alive compares. It lets a caller that found a process some other way than
// a pid file (a lock file's holder) signal it later only while Alive holds.
func StartTime(pid int) (uint64, error) {
	st, err := readStat(pid)
	if err != nil {
		return 0, err
	}
	if st.exited() {
		return 0, fmt.Errorf("pid %d has exited", pid)
	}
	return st.startTime, nil
}

package process

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"time"
)

// findOrphan looks for a process running exactly s's command line that no pid file
// names. It exists when cellplane was killed between starting a process and
// recording its pid file; starting another would leave two copies fighting over
// the same ports and data. Every member's command line names its own addresses and
// data directory, so an exact match is that member. Only session leaders match:
// start gives every process a session of its own.
func findOrphan(s Spec) (pidFile, bool) {
	want := append([]string{s.Path}, s.Args...)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return pidFile{}, false
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if pf, ok := matchOrphan(pid, want, s); ok {
			return pf, true
		}
	}
	return pidFile{}, false
}

func matchOrphan(pid int, want []string, s Spec) (pidFile, bool) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil || !slices.Equal(splitCmdline(raw), want) {
		return pidFile{}, false
	}
	st, err := readStat(pid)
	if err != nil || st.exited() || st.session != pid {
		return pidFile{}, false
	}
	return pidFile{PID: pid, StartTime: st.startTime, SpecHash: s.hash(), Path: s.Path, StartedAt: time.Now()}, true
}

func splitCmdline(raw []byte) []string {
	raw = bytes.TrimSuffix(raw, []byte{0})
	var out []string
	for _, a := range bytes.Split(raw, []byte{0}) {
		out = append(out, string(a))
	}
	return out
}

package framework

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// RSS returns the resident set size of pid in bytes, from VmRSS in
// /proc/<pid>/status: the memory figure the benchmarks record.
func RSS(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("reading status of pid %d: %w", pid, err)
	}
	defer func() { _ = f.Close() }() // read only: the scanner reports what went wrong
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return parseKB(pid, v)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("reading status of pid %d: %w", pid, err)
	}
	// Zombies and kernel threads have no address space, hence no VmRSS.
	return 0, fmt.Errorf("reading status of pid %d: no VmRSS", pid)
}

func parseKB(pid int, v string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("parsing VmRSS of pid %d: %w", pid, err)
	}
	return n * 1024, nil
}

//go:build unix

package lb

import (
	"fmt"
	"syscall"
)

// raiseFileLimit raises the process's RLIMIT_NOFILE to want if it is lower,
// the hard limit too where the process may (root), and returns the soft
// limit in effect afterwards. Go already raises the soft limit to the hard
// one at start (since Go 1.19), which is often not enough for a balancer.
func raiseFileLimit(want uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur >= want {
		return lim.Cur, nil
	}
	raised := syscall.Rlimit{Cur: want, Max: max(lim.Max, want)}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &raised); err == nil {
		return want, nil
	}
	// Without the right to raise the hard limit, take all of it.
	fallback := syscall.Rlimit{Cur: lim.Max, Max: lim.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &fallback); err != nil {
		return lim.Cur, fmt.Errorf("raising RLIMIT_NOFILE to %d: %w", lim.Max, err)
	}
	return lim.Max, nil
}

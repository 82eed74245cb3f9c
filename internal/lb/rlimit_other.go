//go:build !unix

package lb

import "math"

// raiseFileLimit has nothing to raise where there is no RLIMIT_NOFILE.
func raiseFileLimit(uint64) (uint64, error) { return math.MaxInt32, nil }

//go:build !linux

package lb

import "syscall"

// setUserTimeout is a no-op where TCP_USER_TIMEOUT does not exist; keepalive
// alone then detects a vanished backend.
func setUserTimeout(_, _ string, _ syscall.RawConn) error { return nil }

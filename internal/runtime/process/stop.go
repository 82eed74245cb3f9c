package process

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// stopPoll is how often Stop checks /proc while waiting for an exit; it is
// short because a caller (and often a user at a terminal) is waiting.
const stopPoll = 20 * time.Millisecond

// terminate asks the process to exit with SIGTERM and escalates to SIGKILL
// after StopTimeout. It returns once the process is gone or ctx ends.
func (r *Runtime) terminate(ctx context.Context, id string, p pidFile, timeout time.Duration) error {
	group := ownsGroup(p)
	if err := sendSignal(p, group, unix.SIGTERM); err != nil {
		return fmt.Errorf("stopping %s: %w", id, err)
	}
	if waitGone(ctx, p, timeout) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stopping %s: %w", id, err)
	}
	r.log.Warn("process ignored SIGTERM, killing", "id", id, "pid", p.PID, "timeout", timeout)
	if err := sendSignal(p, group, unix.SIGKILL); err != nil {
		return fmt.Errorf("killing %s: %w", id, err)
	}
	if !pollExit(ctx, p.PID, p.StartTime, stopPoll) {
		return fmt.Errorf("killing %s: %w", id, ctx.Err())
	}
	return nil
}

// ownsGroup reports whether the process still leads the process group that
// Setsid gave it. Signalling the group also reaches helpers it forked, which
// would otherwise outlive it and keep its ports busy. We only signal the
// group while its leader is verified alive: once the leader is gone its PID,
// and so the group ID, may eventually be recycled by a stranger.
func ownsGroup(p pidFile) bool {
	st, err := readStat(p.PID)
	return err == nil && st.startTime == p.StartTime && st.pgid == p.PID
}

// sendSignal delivers sig unless the process is already gone. The start time is
// checked right before, so a recycled PID is never signalled.
func sendSignal(p pidFile, group bool, sig unix.Signal) error {
	if !p.alive() {
		return nil
	}
	target := p.PID
	if group {
		target = -p.PID
	}
	if err := unix.Kill(target, sig); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("sending %v to pid %d: %w", sig, p.PID, err)
	}
	return nil
}

// waitGone waits up to d for the process to exit.
func waitGone(ctx context.Context, p pidFile, d time.Duration) bool {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return pollExit(ctx, p.PID, p.StartTime, stopPoll)
}

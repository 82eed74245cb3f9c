// Package process is the cell runtime that runs control-plane components
// (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, the load
// balancer) as plain processes on the local machine.
//
// The design goal is static stability: a tenant's control plane must keep
// serving while cellplane itself is stopped, upgraded, killed with SIGKILL or
// interrupted with Ctrl-C in the terminal that started it. Three choices give
// that property:
//
//   - Every component starts in its own session (Setsid) with stdin on
//     /dev/null and output appended to a log file, so no terminal signal,
//     hang-up or kill of cellplane's process group reaches it, and no pipe to
//     cellplane can break. Pdeathsig is deliberately not set.
//   - Right after a start, a pid file records the PID together with the
//     kernel start time of the process (field 22 of /proc/<pid>/stat) and a
//     hash of the spec. The start time makes the pid file safe against PID
//     reuse: a recycled PID never matches, so we never adopt or signal a
//     stranger.
//   - When cellplane starts again, Ensure adopts a live process whose spec
//     hash matches instead of restarting it, and resumes supervising it by
//     watching a pidfd (or polling /proc), since a process we did not fork
//     cannot be waited for. A changed hash is how upgrades and configuration
//     changes restart a component.
//
// While cellplane runs, a component that exits unexpectedly is restarted
// with exponential backoff. Close only stops supervising; nothing is killed.
// Stop works from the pid file alone, so it can tear down processes started
// by an earlier cellplane.
//
// One caveat lives outside this package: a process manager that kills a
// whole cgroup (systemd's default KillMode=control-group) would still take
// the components down with cellplane; run cellplane with KillMode=process.
package process

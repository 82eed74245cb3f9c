// Package cgroup gives each tenant cluster a control group of its own, with a
// CPU weight and cap and a memory and process limit, on cgroup v1 or v2,
// whichever the machine offers (Detect decides once at start).
//
// Processes join a group before their first instruction, never after: on v1
// the thread that forks them joins first (a v1 task is a thread, and a child
// starts in its forking thread's groups), on v2 they are cloned straight into
// it (clone3 with CLONE_INTO_CGROUP, which v1 lacks). A process adopted from an
// earlier cellplane is moved in as it runs. Groups live under the cgroup
// cellplane's cell runs in, so whatever accounts for cellplane accounts for its
// tenants too, and they are removed when their cluster is deleted.
//
// This package decides where groups live and what their files say; it starts
// nothing. It needs root: Detect reports what is missing otherwise.
package cgroup

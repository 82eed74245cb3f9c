package cgroup

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// ErrUnavailable says the machine offers no usable cgroup hierarchy to this
// process: no cpu and memory controllers, or no permission to make groups.
var ErrUnavailable = errors.New("cgroups unavailable")

// Version is the cgroup hierarchy in use.
type Version int

// The two hierarchies.
const (
	V1 Version = 1
	V2 Version = 2
)

// Limits are what one cluster's group enforces.
type Limits struct {
	// CPUWeight is the group's share of the CPU against its siblings when
	// the CPU is contended, on v2's scale (1-10000, 100 for an even share);
	// v1's cpu.shares get it scaled to 1024 for 100.
	CPUWeight int
	// CPUMaxMilli caps the CPU time the group may use, in thousandths of a
	// core, however idle the machine (zero: no cap). Weight alone lets one
	// busy cluster take every core the others leave idle for a moment, and
	// their next request waits behind it; under a cap part of the machine
	// stays free for them. It is a quota per CPUPeriod.
	CPUMaxMilli int
	// MemoryBytes is the memory limit; the kernel reclaims, then kills
	// inside the group, beyond it.
	MemoryBytes int64
	// Pids caps processes and threads, so a fork bomb stays in its tenant.
	Pids int
}

// DefaultLimits: an even CPU share, no CPU cap short of the machine's cores
// (DefaultCPUMaxMilli), 2 GiB (an HA control plane idles at about 1 GiB
// resident; the rest is room for the API servers' caches under load), and
// 4096 tasks (a whole control plane runs a few hundred threads).
func DefaultLimits() Limits {
	return Limits{CPUWeight: 100, CPUMaxMilli: DefaultCPUMaxMilli(runtime.NumCPU()), MemoryBytes: 2 << 30, Pids: 4096}
}

// DefaultCPUMaxMilli is the default CPU cap of a cluster on a machine of
// cpus cores while it starts or changes: all of them, so no cap in effect.
// Half the machine at all times was tried: on two cores it made every
// cluster's creation and the whole end-to-end suite take about twice as long
// (a control plane bursts while its API servers start). Once a cluster has
// settled it gets DefaultSettledCPUMaxMilli. Operators set one cap for every
// state with --tenant-cpu-max.
func DefaultCPUMaxMilli(cpus int) int {
	return max(1000, cpus*1000)
}

// DefaultSettledCPUMaxMilli is the default CPU cap of a settled cluster (ACTIVE
// and Ready) on a machine of cpus cores: half of them. Weight alone leaves a
// quiet neighbour's GET p99 1.84x its unloaded value next to a cluster that
// burns every core; under half the machine it stayed within 1.5x
// (docs/performance.md, "A noisy neighbour").
func DefaultSettledCPUMaxMilli(cpus int) int {
	return max(minCPUMaxMilli, cpus*500)
}

// CPUPeriod is the period of the CPU cap. The kernel's default of 100 ms
// lets a capped cluster burn every core of a small machine for tens of
// milliseconds and then stall as long; 10 ms keeps both its neighbours' wait
// and its own stalls to a few milliseconds, for a timer interrupt per period
// of a busy group. The benchmark on a loaded machine told the two periods
// apart by nothing beyond its noise (docs/performance.md).
const CPUPeriod = 10 * time.Millisecond

// minCPUMaxMilli is the smallest cap: the kernel refuses a quota below 1 ms
// per period. maxCPUMaxMilli is far beyond any machine's cores.
const (
	minCPUMaxMilli = 100
	maxCPUMaxMilli = 1 << 20
)

// Validate refuses limits the kernel would refuse or that would starve.
func (l Limits) Validate() error {
	switch {
	case l.CPUWeight < 1 || l.CPUWeight > 10000:
		return fmt.Errorf("CPU weight %d: want 1 to 10000", l.CPUWeight)
	case l.CPUMaxMilli != 0 && (l.CPUMaxMilli < minCPUMaxMilli || l.CPUMaxMilli > maxCPUMaxMilli):
		return fmt.Errorf("CPU cap of %d thousandths of a core: want 0 (none) or %d to %d", l.CPUMaxMilli, minCPUMaxMilli, maxCPUMaxMilli)
	case l.MemoryBytes < 64<<20:
		return fmt.Errorf("memory limit %d bytes: want at least 64 MiB", l.MemoryBytes)
	case l.Pids < 64:
		return fmt.Errorf("process limit %d: want at least 64", l.Pids)
	}
	return nil
}

// groupDirMode is a group directory's mode: cgroupfs applies it to the
// directory only (its files are the kernel's), and a group holds no secret.
const groupDirMode = 0o750

// controllersV1 are the v1 hierarchies a group spans: each is a separate tree.
var controllersV1 = []string{"cpu", "memory", "pids"}

// Manager makes groups under one parent per hierarchy.
type Manager struct {
	version Version
	// parents maps a v1 controller to the directory groups are made in; on
	// v2 the one key "" holds it.
	parents map[string]string
}

// Version is the hierarchy the manager uses.
func (m *Manager) Version() Version { return m.version }

// Group is one cluster's control group.
type Group struct {
	version Version
	dirs    []string // one per v1 controller, one on v2
	base    string   // v2: the manager's parent, where delegation starts
	home    []string // the manager's parents: where a forking thread returns
}

// Dirs are the group's directories, one per hierarchy it spans.
func (g *Group) Dirs() []string { return g.dirs }

// Version is the group's hierarchy.
func (g *Group) Version() Version { return g.version }

// Group names the group of name, a path of one or more elements under the
// manager's parents made of names (DNS labels here: namespaces and cluster
// names), without touching the file system.
func (m *Manager) Group(name string) *Group {
	g := &Group{version: m.version, base: m.parents[""]}
	for _, c := range m.controllers() {
		g.dirs = append(g.dirs, filepath.Join(m.parents[c], filepath.Clean("/"+name)))
		g.home = append(g.home, m.parents[c])
	}
	return g
}

func (m *Manager) controllers() []string {
	if m.version == V2 {
		return []string{""}
	}
	return controllersV1
}

// Ensure creates the group if needed and writes its limits. It is idempotent,
// so it runs on every pass of a cluster.
func (g *Group) Ensure(l Limits) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if err := g.create(); err != nil {
		return err
	}
	if g.version == V1 {
		l.CPUMaxMilli = capBelow(l.CPUMaxMilli, ancestorsCPUMaxMilli(g.home[0]))
	}
	for _, f := range g.limitFiles(l) {
		if err := writeFile(f.path, f.value); err != nil {
			return err
		}
	}
	return nil
}

func (g *Group) create() error {
	if g.version == V2 {
		return g.delegate()
	}
	for _, d := range g.dirs {
		if err := os.MkdirAll(d, groupDirMode); err != nil {
			return fmt.Errorf("creating cgroup: %w", err)
		}
	}
	return nil
}

// delegate creates a v2 group level by level from the manager's parent,
// enabling the three controllers for each level's children: v2 offers a
// group only the controllers its parent enabled in cgroup.subtree_control.
// The kernel refuses that (EBUSY) in a group that holds processes itself,
// other than the root: cellplane then needs a delegated group of its own.
func (g *Group) delegate() error {
	rel, err := filepath.Rel(g.base, g.dirs[0])
	if err != nil {
		return fmt.Errorf("creating cgroup: %w", err)
	}
	dir := g.base
	for _, elem := range strings.Split(rel, string(filepath.Separator)) {
		if err := writeFile(filepath.Join(dir, "cgroup.subtree_control"), "+cpu +memory +pids"); err != nil {
			return fmt.Errorf("delegating controllers to %s's children: %w", dir, err)
		}
		dir = filepath.Join(dir, elem)
		if err := os.Mkdir(dir, groupDirMode); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("creating cgroup: %w", err)
		}
	}
	return nil
}

// limitFile is one file of a group and what Ensure writes to it.
type limitFile struct{ path, value string }

// limitFiles are the group's limit files with their values, in the order
// they are written: on v1 the period before the quota, since the kernel
// checks a quota against the period in place.
func (g *Group) limitFiles(l Limits) []limitFile {
	period := CPUPeriod.Microseconds()
	quota := int64(-1) // v1's "no cap"
	if l.CPUMaxMilli > 0 {
		quota = int64(l.CPUMaxMilli) * period / 1000
	}
	if g.version == V2 {
		d := g.dirs[0]
		limit := "max"
		if quota > 0 {
			limit = strconv.FormatInt(quota, 10)
		}
		return []limitFile{
			{filepath.Join(d, "cpu.weight"), strconv.Itoa(l.CPUWeight)},
			{filepath.Join(d, "cpu.max"), limit + " " + strconv.FormatInt(period, 10)},
			{filepath.Join(d, "memory.max"), strconv.FormatInt(l.MemoryBytes, 10)},
			{filepath.Join(d, "pids.max"), strconv.Itoa(l.Pids)},
		}
	}
	return []limitFile{
		// cpu.shares' default of 1024 is v2's weight of 100.
		{filepath.Join(g.dirs[0], "cpu.shares"), strconv.Itoa(max(2, l.CPUWeight*1024/100))},
		{filepath.Join(g.dirs[0], "cpu.cfs_period_us"), strconv.FormatInt(period, 10)},
		{filepath.Join(g.dirs[0], "cpu.cfs_quota_us"), strconv.FormatInt(quota, 10)},
		{filepath.Join(g.dirs[1], "memory.limit_in_bytes"), strconv.FormatInt(l.MemoryBytes, 10)},
		{filepath.Join(g.dirs[2], "pids.max"), strconv.Itoa(l.Pids)},
	}
}

// ancestorsCPUMaxMilli is the tightest CPU cap of dir and the groups above
// it on v1, in thousandths of a core (zero: none). v1 refuses (EINVAL) a
// group a larger cap than an ancestor's, where v2 just applies the smaller:
// cellplane in a container given fewer cores than the machine has would
// otherwise fail every cluster's start. It stops where the hierarchy does
// (no cpu.cfs_quota_us above the mount point).
func ancestorsCPUMaxMilli(dir string) int {
	tightest := 0
	for ; ; dir = filepath.Dir(dir) {
		quota, err1 := readInt(filepath.Join(dir, "cpu.cfs_quota_us"))
		period, err2 := readInt(filepath.Join(dir, "cpu.cfs_period_us"))
		if err1 != nil || err2 != nil || period <= 0 {
			return tightest
		}
		if quota > 0 {
			tightest = capBelow(tightest, max(1, int(quota*1000/period)))
		}
		if dir == filepath.Dir(dir) {
			return tightest
		}
	}
}

// capBelow is the tighter of two caps, zero meaning none.
func capBelow(a, b int) int {
	switch {
	case a == 0:
		return b
	case b == 0:
		return a
	}
	return min(a, b)
}

func readInt(path string) (int64, error) {
	b, err := os.ReadFile(path) //nolint:gosec // G304: a cgroup file above a group of ours
	if err != nil {
		return 0, err
	}
	return strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
}

// AddProcess moves a running process, all its threads, into the group.
func (g *Group) AddProcess(pid int) error {
	for _, d := range g.dirs {
		if err := writeFile(filepath.Join(d, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// Contains reports whether pid is in the group in every hierarchy it spans.
func (g *Group) Contains(pid int) (bool, error) {
	for _, d := range g.dirs {
		b, err := os.ReadFile(filepath.Join(d, "cgroup.procs")) //nolint:gosec // G304: a cgroup file of the group's own
		if err != nil {
			return false, fmt.Errorf("reading cgroup members: %w", err)
		}
		if !containsLine(string(b), strconv.Itoa(pid)) {
			return false, nil
		}
	}
	return true, nil
}

func containsLine(s, want string) bool {
	for _, l := range strings.Split(s, "\n") {
		if l == want {
			return true
		}
	}
	return false
}

// Remove deletes the group once its processes are gone. A group that does not
// exist counts as removed. The kernel refuses (EBUSY) while a process remains;
// callers stop the processes first.
func (g *Group) Remove() error {
	var errs []error
	for _, d := range g.dirs {
		if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("removing cgroup: %w", err))
		}
	}
	return errors.Join(errs...)
}

func writeFile(path, value string) error {
	// cgroup files exist already; O_TRUNC is ignored by cgroupfs but harmless.
	if err := os.WriteFile(path, []byte(value), 0o644); err != nil { //nolint:gosec // G306: the kernel owns a cgroup file's mode
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// RemovePrefix removes every group beside the manager's parents' children
// whose name starts with prefix, with the groups below them, deepest first,
// once their processes are gone: what tests and the teardown of a whole cell
// use, where clusters were not deleted one by one.
func (m *Manager) RemovePrefix(prefix string) error {
	var errs []error
	for _, c := range m.controllers() {
		entries, err := os.ReadDir(m.parents[c])
		if err != nil {
			errs = append(errs, fmt.Errorf("listing cgroups: %w", err))
			continue
		}
		for _, e := range entries {
			if e.IsDir() && strings.HasPrefix(e.Name(), prefix) {
				errs = append(errs, removeTree(filepath.Join(m.parents[c], e.Name())))
			}
		}
	}
	return errors.Join(errs...)
}

func removeTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing cgroup: %w", err)
	}
	var errs []error
	for _, e := range entries {
		if e.IsDir() {
			errs = append(errs, removeTree(filepath.Join(dir, e.Name())))
		}
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("removing cgroup: %w", err))
	}
	return errors.Join(errs...)
}

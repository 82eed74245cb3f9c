package bringup

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// CPUMeter measures how busy the machine's cores are, from /proc/stat, over
// the last sampling interval.
type CPUMeter struct {
	// Path is /proc/stat unless set (tests).
	Path string
	// Interval is how often it samples; zero means a second.
	Interval time.Duration

	mu   sync.Mutex
	last cpuTimes
	busy float64
	ok   bool
}

// cpuTimes are the aggregate "cpu" line's counters: all of them, and the idle
// ones (idle and iowait).
type cpuTimes struct{ total, idle uint64 }

// Run samples until ctx ends.
func (m *CPUMeter) Run(ctx context.Context) error {
	every := m.Interval
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		_ = m.Sample() // a failed read leaves the last figure; Busy says when there is none
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Sample reads the counters and, from the second read on, sets the busy
// share since the one before.
func (m *CPUMeter) Sample() error {
	path := m.Path
	if path == "" {
		path = "/proc/stat"
	}
	data, err := os.ReadFile(path) //nolint:gosec // G304: /proc/stat, or a test's file
	if err != nil {
		return fmt.Errorf("reading CPU times: %w", err)
	}
	now, err := parseCPUTimes(data)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.last.total > 0 && now.total > m.last.total {
		dt, di := now.total-m.last.total, now.idle-m.last.idle
		m.busy, m.ok = 1-float64(di)/float64(dt), true
	}
	m.last = now
	return nil
}

// Busy is the share of the machine's CPU time spent busy over the last
// interval, from 0 to 1; false until two samples were taken.
func (m *CPUMeter) Busy() (float64, bool) {
	if m == nil {
		return 0, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.busy, m.ok
}

func parseCPUTimes(data []byte) (cpuTimes, error) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 5 || f[0] != "cpu" {
			continue
		}
		var t cpuTimes
		// user nice system idle iowait irq softirq steal (guest times are
		// already in user and nice).
		for i, s := range f[1:min(len(f), 9)] {
			v, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				return cpuTimes{}, fmt.Errorf("CPU times: %q: %w", sc.Text(), err)
			}
			t.total += v
			if i == 3 || i == 4 {
				t.idle += v
			}
		}
		return t, nil
	}
	return cpuTimes{}, fmt.Errorf("CPU times: no aggregate cpu line")
}

package zonenet

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// maxQueued bounds the packets a degraded zone holds back; beyond it they are
// dropped, as a full queue on a real slow link would.
const maxQueued = 10000

// line is one degraded zone's path: packets the zone sends come out of the
// TUN, are dropped at random or wait their latency, and go back in. One
// goroutine reads and one writes, with a FIFO between them: every packet waits
// the same time, so first in is always first due, and a single timer serves
// the whole queue while order is kept.
type line struct {
	tun   *os.File
	fault Fault
	log   *slog.Logger
	queue chan packet
	stop  chan struct{}
	done  sync.WaitGroup
}

type packet struct {
	data []byte
	due  time.Time
}

func startLine(tun *os.File, f Fault, log *slog.Logger) *line {
	l := &line{tun: tun, fault: f, log: log, queue: make(chan packet, maxQueued), stop: make(chan struct{})}
	l.done.Add(2)
	go l.read()
	go l.write()
	return l
}

// close stops both goroutines and closes the TUN, which deletes the device.
func (l *line) close() {
	close(l.stop)
	_ = l.tun.Close() // wakes a blocked Read; the device goes with the last descriptor either way
	l.done.Wait()
}

func (l *line) read() {
	defer l.done.Done()
	buf := make([]byte, 1<<16)
	for {
		n, err := l.tun.Read(buf)
		if err != nil {
			l.readFailed(err)
			return
		}
		if l.fault.LossPercent > 0 && rand.IntN(100) < l.fault.LossPercent { //nolint:gosec // G404: simulated packet loss needs a rate, not secrecy
			continue
		}
		select {
		case l.queue <- packet{data: bytes.Clone(buf[:n]), due: time.Now().Add(l.fault.Latency)}:
		default: // queue full: drop
		}
	}
}

func (l *line) write() {
	defer l.done.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case <-l.stop:
			return
		case p := <-l.queue:
			if !l.wait(timer, p.due) {
				return
			}
			// A packet the stack refuses is simply lost, as on a wire.
			if _, err := l.tun.Write(p.data); errors.Is(err, os.ErrClosed) {
				return
			}
		}
	}
}

// wait sleeps until due and reports false if the line stopped meanwhile.
func (l *line) wait(timer *time.Timer, due time.Time) bool {
	d := time.Until(due)
	if d <= 0 {
		return true
	}
	timer.Reset(d)
	select {
	case <-timer.C:
		return true
	case <-l.stop:
		return false
	}
}

// readFailed logs why reading stopped, unless it was close.
func (l *line) readFailed(err error) {
	select {
	case <-l.stop:
		return
	default:
	}
	if !errors.Is(err, os.ErrClosed) {
		// Another process deleted our TUN, most likely: the zone drops
		// what it sends until its fault is set again.
		l.log.Warn("degraded zone stopped forwarding: reading its TUN failed", "err", err)
	}
}

package envelope

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"syscall"
	"testing"
	"time"
)

const benchSize = 256 << 20

var (
	benchOnce sync.Once
	benchData []byte
)

// etcdLike returns n bytes that compress roughly as an etcd snapshot of
// Kubernetes objects does: repeated keys and field names around random IDs,
// timestamps and opaque blobs.
func etcdLike(n int) []byte {
	benchOnce.Do(func() {
		r := rand.New(rand.NewPCG(1, 2))
		var b bytes.Buffer
		b.Grow(benchSize + 4096)
		blob := make([]byte, 96)
		for i := 0; b.Len() < benchSize; i++ {
			for j := range blob {
				blob[j] = byte(r.Uint32()) //nolint:gosec // G115: truncating is the point, any byte will do
			}
			fmt.Fprintf(&b, "/registry/pods/ns-%d/pod-%d\x00{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":{\"name\":\"pod-%d\",\"uid\":\"%016x-%08x\",\"resourceVersion\":\"%d\",\"creationTimestamp\":\"2026-01-%02dT%02d:%02d:%02dZ\",\"labels\":{\"app\":\"svc-%d\"}},\"spec\":{\"nodeName\":\"node-%d\",\"containers\":[{\"name\":\"c\",\"image\":\"registry.example/app:%d\"}]},\"data\":%q}\n",
				r.IntN(200), i, i, r.Uint64(), r.Uint32(), 1000+i, 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(50), r.IntN(500), r.IntN(20), blob)
		}
		benchData = b.Bytes()[:benchSize]
	})
	return benchData[:n]
}

// BenchmarkNewWriter seals 256 MiB of snapshot-like data as a backup does, through
// a HashWriter, in the 32 KiB writes io.Copy makes. Run alone for the single-core
// figure: go test -run '^$' -bench NewWriter -cpu 1 ./internal/backup/envelope/
func BenchmarkNewWriter(b *testing.B) {
	data := etcdLike(benchSize)
	key := NewDataKey()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu := cpuTime(b)
	var out int64
	for b.Loop() {
		hw := NewHashWriter(io.Discard)
		w := NewWriter(hw, key, testBinding)
		if _, err := io.CopyBuffer(w, bytes.NewReader(data), make([]byte, 32<<10)); err != nil {
			b.Fatal(err)
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		out = hw.Len()
	}
	b.ReportMetric(float64(len(data))/float64(out), "ratio")
	reportCPUThroughput(b, cpu, len(data))
}

// BenchmarkNewReader opens what BenchmarkNewWriter seals: the restore side.
func BenchmarkNewReader(b *testing.B) {
	data := etcdLike(benchSize)
	key := NewDataKey()
	var sealed bytes.Buffer
	w := NewWriter(&sealed, key, testBinding)
	if _, err := w.Write(data); err != nil {
		b.Fatal(err)
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	cpu := cpuTime(b)
	for b.Loop() {
		r, err := NewReader(bytes.NewReader(sealed.Bytes()), key, testBinding)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, r); err != nil || n != int64(len(data)) {
			b.Fatalf("read %d bytes, %v", n, err)
		}
	}
	reportCPUThroughput(b, cpu, len(data))
}

// cpuTime is the CPU time the process has used. On a shared machine wall-clock
// MB/s depends on the neighbours; MB per CPU-second does not.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPUThroughput(b *testing.B, start time.Duration, size int) {
	b.ReportMetric(float64(size)*float64(b.N)/1e6/(cpuTime(b)-start).Seconds(), "MB/cpu-s")
}

package framework

import (
	"context"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"
)

// An e2e package's tests that need nothing but a running cellplane on its
// defaults share one instance: starting one costs two stores and a cell
// process, some fifteen seconds on two cores, for every test that would
// otherwise start its own. A test that uses the shared instance leaves it as
// it found it: it changes no cell, zone or flag, kills nothing, and its
// clusters are deleted when it ends (Shared sees to that). Tests that need
// flags, several cells, zone namespaces or to kill cellplane start their own
// with NewInstance.

var shared struct {
	mu  sync.Mutex
	in  *Instance
	cur *currentT
	err error // why the shared instance did not start
}

// currentT is the shared instance's T: the test using it now, so a failure
// is reported to the test that met it.
type currentT struct{ testing.TB }

// Shared returns the package's shared instance, starting it on first use.
// The instance reports to t until the next test asks for it, and every
// cluster of the default account is deleted when t ends.
func Shared(ctx context.Context, t testing.TB, bins Binaries) *Instance {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	switch {
	case shared.err != nil:
		t.Fatalf("the shared instance did not start: %v", shared.err)
	case shared.in == nil:
		dir, err := os.MkdirTemp("", "cellplane-shared-")
		if err != nil {
			t.Fatal(err)
		}
		shared.cur = &currentT{TB: t}
		shared.in = &Instance{T: shared.cur, Bins: bins, DataDir: dir, Block: freeBlock()}
		shared.err = fmt.Errorf("starting it failed in %s", t.Name())
		shared.in.Start(ctx) // fails t, and every later user, if it does not start
		shared.err = nil
	}
	shared.cur.TB = t
	in := shared.in
	t.Cleanup(func() { deleteClusters(t, in) })
	return in
}

// deleteClusters deletes every cluster of the default account and waits
// until they are gone, so the next test starts on an empty instance.
func deleteClusters(t testing.TB, in *Instance) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := in.Client()
	names, err := c.ListAllClusters(ctx)
	if err != nil {
		t.Errorf("listing the shared instance's clusters to delete them: %v", err)
		return
	}
	for _, n := range names {
		if _, err := c.DeleteCluster(ctx, n); err != nil {
			t.Errorf("deleting cluster %s of the shared instance: %v", n, err)
		}
	}
	err = Eventually(ctx, 3*time.Minute, 250*time.Millisecond, func() error {
		left, err := c.ListAllClusters(ctx)
		if err == nil && len(left) > 0 {
			err = fmt.Errorf("clusters %v not deleted yet", left)
		}
		return err
	})
	if err != nil {
		t.Errorf("the shared instance kept its clusters: %v", err)
	}
}

// StopShared ends the shared instance, if one was started: every process it
// started, by PID, and its files. Main calls it after the package's tests.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.in == nil {
		return
	}
	shared.cur.TB = mainT{}
	shared.in.cleanup()
	if err := os.RemoveAll(shared.in.DataDir); err != nil {
		fmt.Fprintf(os.Stderr, "removing the shared instance's data directory: %v\n", err)
	}
	shared.in = nil
}

// mainT reports what the shared instance's cleanup finds after the last test
// ended, on standard error: there is no test left to fail.
type mainT struct{ testing.TB }

func (mainT) Helper() {}
func (mainT) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "shared instance: "+format+"\n", args...)
}

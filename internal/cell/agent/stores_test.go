package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/store/storetest"
)

// The agent and the heartbeat connect two stores, the region's and the
// cell's, so this package's tests run on two real management stores. They
// start together when the first test asks for them and stop when the binary
// ends. (storetest.Main takes one store; this is what a Main for several
// would do.)
var stores twoStores

func TestMain(m *testing.M) {
	stopOnSignal(&stores)
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := stores.stop(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "agent tests: %v\n", err)
		code = max(code, 1)
	}
	os.Exit(code)
}

const (
	// startTimeout bounds the start of both stores, side by side: one takes
	// up to two minutes on a loaded machine (storetest's own bound).
	startTimeout = 3 * time.Minute
	stopTimeout  = time.Minute
)

var errStopped = errors.New("the test stores were stopped")

// twoStores are the region's store and the cell's.
type twoStores struct {
	once         sync.Once
	region, cell *storetest.Env
	err          error
}

// get starts both stores on first use and fails t if they cannot start.
func (s *twoStores) get(t testing.TB) (region, cell *storetest.Env) {
	t.Helper()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		var wg sync.WaitGroup
		var rerr, cerr error
		wg.Go(func() { s.region, rerr = storetest.Start(ctx) })
		wg.Go(func() { s.cell, cerr = storetest.Start(ctx) })
		wg.Wait()
		s.err = errors.Join(rerr, cerr)
	})
	if s.err != nil {
		t.Fatalf("starting the region and cell stores: %v", s.err)
	}
	return s.region, s.cell
}

// stop stops whichever store started; it is safe to call more than once.
func (s *twoStores) stop(ctx context.Context) error {
	s.once.Do(func() { s.err = errStopped })
	var errs []error
	for _, e := range []*storetest.Env{s.region, s.cell} {
		if e != nil {
			errs = append(errs, e.Stop(ctx))
		}
	}
	return errors.Join(errs...)
}

// regionEnv and cellEnv are the two stores, started on first use.
func regionEnv(t testing.TB) *storetest.Env { r, _ := stores.get(t); return r }
func cellEnv(t testing.TB) *storetest.Env   { _, c := stores.get(t); return c }

// stopOnSignal stops the stores on an interrupt: their processes run in
// sessions of their own, so the Ctrl-C that kills the test binary does not
// reach them.
func stopOnSignal(s *twoStores) {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-ch
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		if err := s.stop(ctx); err != nil {
			fmt.Fprintf(os.Stderr, "agent tests: %v\n", err)
		}
		fmt.Fprintf(os.Stderr, "agent tests: stopped the stores on %v\n", sig)
		os.Exit(1)
	}()
}

package addons

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/store/storetest"
)

// The mirror connects two stores, the region's and the cell's, so its tests
// run on two real management stores, started together on first use and
// stopped when the binary ends (as the agent's tests do).
var stores twoStores

func TestMain(m *testing.M) {
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := stores.stop(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "addons tests: %v\n", err)
		code = max(code, 1)
	}
	os.Exit(code)
}

type twoStores struct {
	once         sync.Once
	region, cell *storetest.Env
	err          error
}

func (s *twoStores) get(t testing.TB) (region, cell *storetest.Env) {
	t.Helper()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
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

func (s *twoStores) stop(ctx context.Context) error {
	s.once.Do(func() { s.err = errors.New("the test stores were stopped") })
	var errs []error
	for _, e := range []*storetest.Env{s.region, s.cell} {
		if e != nil {
			errs = append(errs, e.Stop(ctx))
		}
	}
	return errors.Join(errs...)
}

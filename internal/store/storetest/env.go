package storetest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/cellplane/cellplane/api/v1alpha1"
)

// startTimeout bounds a store's start: the store waits up to 90 seconds for its
// API server on a loaded machine, and the CRDs take a few more.
const startTimeout = 2 * time.Minute

// errStopped is what a test meets when it asks for the store after Stop.
var errStopped = errors.New("the store was stopped")

// Env is one test binary's store. The zero value is ready for Main, which starts
// the store on first use; Start returns one already started. Its methods are
// safe for concurrent use by parallel tests.
type Env struct {
	owned atomic.Bool // Main or Start will stop it: nothing else may start it
	once  sync.Once   // the one start attempt
	run   *running
	err   error

	names    atomic.Int64 // for Namespace
	accounts atomic.Int64 // for Account
}

// Main runs the package's tests with env and then stops env's store, if a test
// started it, before the binary exits with the tests' result. Call it from
// TestMain; like goleak.VerifyTestMain it never returns. An interrupt (Ctrl-C,
// SIGTERM) stops the store too; a binary that dies some other way (a test
// timeout's panic) leaves it to the next binary's start, which reaps it.
func Main(m *testing.M, env *Env) { os.Exit(Run(m, env)) }

// Run is Main for a TestMain with more to do after the tests: it returns the
// exit code instead of exiting. The store is stopped and the interrupt handler
// gone by the time it returns. (client-go keeps a certificate-reloading
// goroutine per credential set for the life of the process, so a goroutine
// leak check after Run must ignore k8s.io/client-go/transport.)
func Run(m *testing.M, env *Env) int {
	env.owned.Store(true)
	defer stopOnSignal(env)()
	code := m.Run()
	if err := stopWithin(env, stopTimeout); err != nil {
		fmt.Fprintf(os.Stderr, "storetest: %v\n", err)
		code = max(code, 1)
	}
	return code
}

// stopWithin stops env's store, giving up after d.
func stopWithin(env *Env, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return env.Stop(ctx)
}

// Start starts a store now, for code that manages its lifetime itself (a
// benchmark's TestMain, a test that needs a store of its own); the caller must
// Stop it.
func Start(ctx context.Context) (*Env, error) {
	e := &Env{}
	e.owned.Store(true)
	e.once.Do(func() { e.run, e.err = start(ctx) })
	if e.err != nil {
		return nil, e.err
	}
	return e, nil
}

// Stop stops the store's processes and removes its files. It is safe to call
// more than once, and on an Env whose store never started.
func (e *Env) Stop(ctx context.Context) error {
	e.once.Do(func() { e.err = errStopped })
	if e.run == nil {
		return nil
	}
	return e.run.stop(ctx)
}

// Client returns a client of the store with Scheme's types, starting the store
// if no test did yet; it fails t when the store cannot start. The client is
// shared: wrap it (interceptor.NewClient) rather than change it.
func (e *Env) Client(t testing.TB) client.WithWatch {
	t.Helper()
	return e.running(t).client
}

// RESTConfig returns admin credentials for the store, for clients other than
// controller-runtime's (clientsets, informers, a manager).
func (e *Env) RESTConfig(t testing.TB) *rest.Config {
	t.Helper()
	return rest.CopyConfig(e.running(t).cfg)
}

// running returns the started store, starting it on first use.
func (e *Env) running(t testing.TB) *running {
	t.Helper()
	if !e.owned.Load() {
		t.Fatal("storetest: nothing would stop this store: call storetest.Main from TestMain, or use storetest.Start and Stop")
	}
	e.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		e.run, e.err = start(ctx)
	})
	if e.err != nil {
		t.Fatalf("storetest: %v", e.err)
	}
	return e.run
}

// Scheme returns a scheme with client-go's built-in types and cellplane's
// api/v1alpha1: everything a management store holds.
func Scheme() *runtime.Scheme {
	sc := runtime.NewScheme()
	// Both only register static types; they fail on programming errors alone.
	if err := clientgoscheme.AddToScheme(sc); err != nil {
		panic(fmt.Sprintf("storetest: client-go scheme: %v", err))
	}
	if err := v1alpha1.AddToScheme(sc); err != nil {
		panic(fmt.Sprintf("storetest: cellplane scheme: %v", err))
	}
	return sc
}

// stopOnSignal stops the store on an interrupt: its processes run in sessions
// of their own (so cellplane's control planes outlive cellplane), which means
// the Ctrl-C that kills the test binary does not reach them. The returned
// function removes the handler.
func stopOnSignal(env *Env) (remove func()) {
	ch := make(chan os.Signal, 1)
	done := make(chan struct{})
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case sig := <-ch:
			if err := stopWithin(env, stopTimeout); err != nil {
				fmt.Fprintf(os.Stderr, "storetest: %v\n", err)
			}
			fmt.Fprintf(os.Stderr, "storetest: stopped the store on %v\n", sig)
			os.Exit(1)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

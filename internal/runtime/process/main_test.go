package process

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/poll"
)

// The test binary doubles as the helper programs the tests need; the
// variable selects which one to be.
const (
	helperEnv     = "CELLPLANE_PROCESS_TEST_HELPER"
	standinSpec   = "CELLPLANE_PROCESS_TEST_SPEC"
	standinEnding = "CELLPLANE_PROCESS_TEST_ENDING"
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
	case "ignore-term":
		ignoreTerm()
	case "standin":
		standin()
	default:
		fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
		os.Exit(2)
	}
	code := m.Run()
	if code == 0 {
		if leaks := leakedGoroutines(); leaks != "" {
			fmt.Fprintf(os.Stderr, "goroutines leaked:\n%s\n", leaks)
			code = 1
		}
	}
	os.Exit(code)
}

// ignoreTerm plays a component that shrugs off SIGTERM, so Stop must
// escalate. "ready" tells the test the signal is ignored by now.
func ignoreTerm() {
	signal.Ignore(syscall.SIGTERM)
	fmt.Println("ready")
	waitForever()
}

// standin plays cellplane: it ensures a spec, reports the status on stdout
// and then dies abruptly, the way cellplane dies on SIGKILL or Ctrl-C.
func standin() {
	var s Spec
	if err := json.Unmarshal([]byte(os.Getenv(standinSpec)), &s); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	st, err := New(Options{}).Ensure(context.Background(), s)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	_ = json.NewEncoder(os.Stdout).Encode(st)
	if os.Getenv(standinEnding) == "exit" {
		os.Exit(3) // no deferred cleanup, no Close
	}
	waitForever() // until the test's signals arrive
}

// waitForever blocks on a signal that never comes; Notify keeps the Go
// runtime from declaring a deadlock.
func waitForever() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGUSR2)
	<-c
	os.Exit(0)
}

// leakedGoroutines waits a little for this package's goroutines to finish
// and returns the stacks of those that did not.
func leakedGoroutines() string {
	var leaks string
	_ = poll.Until(context.Background(), 5*time.Second, 20*time.Millisecond, func() error {
		if leaks = packageGoroutines(); leaks != "" {
			return errors.New("goroutines left")
		}
		return nil
	})
	return leaks
}

func packageGoroutines() string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var leaks []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, fn := range []string{"process.(*Runtime).supervise", "process.reap(", "process.waitPidfd("} {
			if strings.Contains(g, fn) {
				leaks = append(leaks, g)
				break
			}
		}
	}
	return strings.Join(leaks, "\n\n")
}

package down

import (
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/cellplane/cellplane/internal/datadir"
)

// The test binary doubles as the processes down stops; the variable selects the
// part to play.
const (
	helperEnv = "CELLPLANE_DOWN_TEST_HELPER" // "member" or "up"
	recordEnv = "CELLPLANE_DOWN_TEST_RECORD" // file a member appends its name to on SIGTERM
	dirEnv    = "CELLPLANE_DOWN_TEST_DIR"    // the data directory "up" locks
	termEnv   = "CELLPLANE_DOWN_TEST_TERM"   // "ignore": up shrugs off SIGTERM
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "member":
		member()
	case "up":
		up()
	}
	fmt.Fprintln(os.Stderr, "unknown helper", os.Getenv(helperEnv))
	os.Exit(2)
}

// member plays any process of a data directory: on SIGTERM it records its name
// (its first argument) and exits, so the test sees the order of the stops.
func member() {
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	<-c
	record(os.Args[1])
	os.Exit(0)
}

// up plays `cellplane up`: it takes the data directory's lock the way the service
// does and holds it until SIGTERM.
func up() {
	dir := os.Getenv(dirEnv)
	f, err := os.OpenFile(datadir.LockFile(dir), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err == nil {
		_, err = f.WriteString(strconv.Itoa(os.Getpid()) + "\n")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	c := make(chan os.Signal, 1)
	signal.Notify(c, syscall.SIGTERM)
	if os.Getenv(termEnv) == "ignore" {
		signal.Ignore(syscall.SIGTERM)
	}
	<-c
	record("up")
	os.Exit(0)
}

func record(name string) {
	f, err := os.OpenFile(os.Getenv(recordEnv), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		os.Exit(3)
	}
	_, _ = f.WriteString(name + "\n")
	_ = f.Close()
}

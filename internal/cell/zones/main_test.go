package zones

import (
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/cellplane/cellplane/internal/controlplane"
	"github.com/cellplane/cellplane/internal/store/storetest"
)

// The lease mover and the wake-up on zone changes talk to a real store (a
// tenant's API server, the cell's store); the package's tests share one.
var env storetest.Env

func TestMain(m *testing.M) { storetest.Main(m, &env) }

var discard = slog.New(slog.DiscardHandler)

func testShifts(t *testing.T) *Shifts {
	t.Helper()
	z, err := Load(filepath.Join(t.TempDir(), "zone-shifts.json"), discard)
	if err != nil {
		t.Fatal(err)
	}
	return z
}

// component is the registered component of kind.
func component(t *testing.T, kind string) controlplane.Component {
	t.Helper()
	for _, c := range controlplane.Default() {
		if c.Kind() == kind {
			return c
		}
	}
	t.Fatalf("no component %s", kind)
	return nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

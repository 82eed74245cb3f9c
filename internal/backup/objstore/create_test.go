package objstore_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/cellplane/cellplane/internal/backup/objstore"
	"github.com/cellplane/cellplane/internal/errdefs"
)

func TestDirCreate(t *testing.T) {
	s, err := objstore.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	testCreate(context.Background(), t, s)
}

// testCreate races creators of one key: exactly one wins, every other gets
// ErrExists, and the object is the winner's, whole. A Create over an object
// that Put stored is refused too and leaves it alone.
func testCreate(ctx context.Context, t *testing.T, s objstore.Store) {
	const key = "sets/a/key.json"
	var mu sync.Mutex
	var won []string
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			body := fmt.Sprintf("writer %d %s", i, strings.Repeat("x", 100*i))
			err := s.Create(ctx, key, strings.NewReader(body), int64(len(body)))
			switch {
			case err == nil:
				mu.Lock()
				won = append(won, body)
				mu.Unlock()
			case !errors.Is(err, objstore.ErrExists) || !errors.Is(err, errdefs.ErrAlreadyExists):
				t.Errorf("losing Create = %v, want ErrExists", err)
			}
		})
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d creators won, want exactly 1", len(won))
	}
	if got := getString(ctx, t, s, key); got != won[0] {
		t.Fatalf("object = %q, want the winner's %q", got, won[0])
	}
	putString(ctx, t, s, "sets/a/other", "put")
	if err := s.Create(ctx, "sets/a/other", strings.NewReader("create"), 6); !errors.Is(err, objstore.ErrExists) {
		t.Fatalf("Create over a Put object = %v, want ErrExists", err)
	}
	if got := getString(ctx, t, s, "sets/a/other"); got != "put" {
		t.Fatalf("refused Create changed the object to %q", got)
	}
	objs, err := s.List(ctx, "sets/")
	if err != nil || len(objs) != 2 {
		t.Fatalf("List after the races = %v, %v; want the two objects only", objs, err)
	}
}

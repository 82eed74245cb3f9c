package objstore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cellplane/cellplane/internal/errdefs"
)

func newDir(t *testing.T) *Dir {
	t.Helper()
	d, err := NewDir(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func put(t *testing.T, s Store, key, body string) {
	t.Helper()
	if err := s.Put(context.Background(), key, strings.NewReader(body), int64(len(body))); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func get(t *testing.T, s Store, key string) string {
	t.Helper()
	rc, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %q: %v", key, err)
	}
	return string(b)
}

func keys(t *testing.T, s Store, prefix string) []string {
	t.Helper()
	objs, err := s.List(context.Background(), prefix)
	if err != nil {
		t.Fatalf("List(%q): %v", prefix, err)
	}
	out := []string{}
	for _, o := range objs {
		out = append(out, o.Key)
	}
	return out
}

func TestNewDirCreatesPrivateRoot(t *testing.T) {
	d := newDir(t)
	fi, err := os.Stat(d.Root())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Fatalf("root mode = %v, want 0700", fi.Mode().Perm())
	}
	if _, err := NewDir(""); !errors.Is(err, errdefs.ErrInvalidParameter) {
		t.Fatalf("NewDir(\"\") = %v, want ErrInvalidParameter", err)
	}
}

func TestDirRoundTrip(t *testing.T) {
	d, ctx := newDir(t), context.Background()
	before := time.Now().Add(-time.Second)
	put(t, d, "clusters/c1/snap-1", "hello")
	put(t, d, "empty", "")
	if got := get(t, d, "clusters/c1/snap-1"); got != "hello" {
		t.Fatalf("Get = %q, want hello", got)
	}
	if got := get(t, d, "empty"); got != "" {
		t.Fatalf("Get(empty) = %q", got)
	}
	o, err := d.Stat(ctx, "clusters/c1/snap-1")
	if err != nil {
		t.Fatal(err)
	}
	if o.Key != "clusters/c1/snap-1" || o.Size != 5 || o.Modified.Before(before) {
		t.Fatalf("Stat = %+v", o)
	}

	put(t, d, "clusters/c1/snap-1", "replaced")
	if got := get(t, d, "clusters/c1/snap-1"); got != "replaced" {
		t.Fatalf("Get after replace = %q", got)
	}

	fi, err := os.Stat(filepath.Join(d.Root(), "clusters", "c1", "snap-1"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("object mode = %v, want 0600", fi.Mode().Perm())
	}
	fi, err = os.Stat(filepath.Join(d.Root(), "clusters", "c1"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode = %v, want 0700", fi.Mode().Perm())
	}

	if err := d.Delete(ctx, "clusters/c1/snap-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Stat(ctx, "clusters/c1/snap-1"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("Stat after Delete = %v, want ErrNotFound", err)
	}
	if err := d.Delete(ctx, "clusters/c1/snap-1"); err != nil {
		t.Fatalf("Delete of a missing key = %v, want nil", err)
	}
}

func TestDirNotFound(t *testing.T) {
	d, ctx := newDir(t), context.Background()
	put(t, d, "a/b", "x")
	for _, key := range []string{"missing", "a", "a/b/c", "a/missing"} {
		if _, err := d.Get(ctx, key); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Get(%q) = %v, want ErrNotFound", key, err)
		}
		if _, err := d.Stat(ctx, key); !errors.Is(err, errdefs.ErrNotFound) {
			t.Errorf("Stat(%q) = %v, want ErrNotFound", key, err)
		}
		if err := d.Delete(ctx, key); err != nil {
			t.Errorf("Delete(%q) = %v, want nil", key, err)
		}
	}
	if got := get(t, d, "a/b"); got != "x" {
		t.Fatalf("a/b = %q after deletes of other keys", got)
	}
}

func TestDirList(t *testing.T) {
	d := newDir(t)
	// "a-c" sorts before "a/b" by bytes ('-' < '/') but after it in a directory walk.
	for _, k := range []string{"a/b", "a-c", "a/c/d", "b", "cluster-1/x", "cluster-10/y", "cluster-2/z"} {
		put(t, d, k, k)
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a-c", "a/b", "a/c/d", "b", "cluster-1/x", "cluster-10/y", "cluster-2/z"}},
		{"a", []string{"a-c", "a/b", "a/c/d"}},
		{"a/", []string{"a/b", "a/c/d"}},
		{"a/c", []string{"a/c/d"}},
		{"cluster-1", []string{"cluster-1/x", "cluster-10/y"}},
		{"cluster-1/", []string{"cluster-1/x"}},
		{"b/", []string{}},
		{"nothing/here/", []string{}},
		{"zz", []string{}},
	} {
		if got := keys(t, d, tc.prefix); !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q, want %q", tc.prefix, got, tc.want)
		}
	}
	objs, err := d.List(context.Background(), "a/c/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 || objs[0].Size != int64(len("a/c/d")) || objs[0].Modified.IsZero() {
		t.Fatalf("List(a/c/) = %+v", objs)
	}
}

// tree lists every file and directory under root with its size, to show that a
// rejected call changed nothing.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		out = append(out, fmt.Sprintf("%s %v %d", p, fi.Mode(), fi.Size()))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDirRejectsBadKeysWithoutSideEffects(t *testing.T) {
	d, ctx := newDir(t), context.Background()
	put(t, d, "keep/me", "safe")
	before := tree(t, d.Root())
	for _, key := range []string{"", "/etc/passwd", "../escape", "keep/../../escape", "a//b", "a/", "nul\x00", "keep/" + tmpPrefix + "x", tmpPrefix + "y/z", strings.Repeat("k", MaxKeyLen+1)} {
		body := "must not be written"
		if err := d.Put(ctx, key, strings.NewReader(body), int64(len(body))); !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("Put(%.40q) = %v, want ErrInvalidParameter", key, err)
		}
		if _, err := d.Get(ctx, key); !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("Get(%.40q) = %v, want ErrInvalidParameter", key, err)
		}
		if _, err := d.Stat(ctx, key); !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("Stat(%.40q) = %v, want ErrInvalidParameter", key, err)
		}
		if err := d.Delete(ctx, key); !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("Delete(%.40q) = %v, want ErrInvalidParameter", key, err)
		}
	}
	if _, err := d.List(ctx, "../"); !errors.Is(err, errdefs.ErrInvalidParameter) {
		t.Errorf("List(../) = %v, want ErrInvalidParameter", err)
	}
	if err := d.Put(ctx, "neg", strings.NewReader(""), -1); !errors.Is(err, errdefs.ErrInvalidParameter) {
		t.Errorf("Put with size -1 = %v, want ErrInvalidParameter", err)
	}
	if after := tree(t, d.Root()); !slices.Equal(before, after) {
		t.Fatalf("rejected calls changed the store:\nbefore %q\nafter  %q", before, after)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(d.Root()), "escape")); err == nil {
		t.Fatal("a key escaped the store's root")
	}
}

func TestDirPutWrongSizeKeepsOldObject(t *testing.T) {
	d, ctx := newDir(t), context.Background()
	put(t, d, "obj", "old")
	before := tree(t, d.Root())
	for _, tc := range []struct {
		body string
		size int64
	}{{"short", 10}, {"longer than said", 3}} {
		err := d.Put(ctx, "obj", strings.NewReader(tc.body), tc.size)
		if !errors.Is(err, errdefs.ErrInvalidParameter) {
			t.Errorf("Put(%q, size %d) = %v, want ErrInvalidParameter", tc.body, tc.size, err)
		}
	}
	if got := get(t, d, "obj"); got != "old" {
		t.Fatalf("object = %q after failed puts, want old", got)
	}
	if after := tree(t, d.Root()); !slices.Equal(before, after) {
		t.Fatalf("failed puts left files behind:\nbefore %q\nafter  %q", before, after)
	}
}

// failingReader returns some data, then an error, as a broken spool file would.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("disk on fire")
	}
	n := min(len(p), f.n)
	f.n -= n
	return n, nil
}

func (f *failingReader) Seek(int64, int) (int64, error) { return 0, errors.New("not seekable") }

func TestDirFailedPutLeavesNothing(t *testing.T) {
	d := newDir(t)
	put(t, d, "x/obj", "old")
	before := tree(t, d.Root())
	if err := d.Put(context.Background(), "x/obj", &failingReader{n: 1 << 20}, 4<<20); err == nil {
		t.Fatal("Put from a failing reader succeeded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Put(ctx, "x/obj", strings.NewReader("new"), 3); !errors.Is(err, context.Canceled) {
		t.Fatalf("Put with a canceled context = %v, want context.Canceled", err)
	}
	if after := tree(t, d.Root()); !slices.Equal(before, after) {
		t.Fatalf("failed puts left files behind:\nbefore %q\nafter  %q", before, after)
	}
	if got := get(t, d, "x/obj"); got != "old" {
		t.Fatalf("object = %q, want old", got)
	}
}

func TestDirKeyAndPrefixConflict(t *testing.T) {
	d, ctx := newDir(t), context.Background()
	put(t, d, "file", "f")
	put(t, d, "dir/child", "c")
	if err := d.Put(ctx, "file/child", strings.NewReader("x"), 1); !errors.Is(err, errdefs.ErrInvalidRequest) {
		t.Errorf("Put under an object = %v, want ErrInvalidRequest", err)
	}
	if err := d.Put(ctx, "dir", strings.NewReader("x"), 1); !errors.Is(err, errdefs.ErrInvalidRequest) {
		t.Errorf("Put over a prefix = %v, want ErrInvalidRequest", err)
	}
	if err := d.Delete(ctx, "dir"); err != nil {
		t.Errorf("Delete of a prefix = %v, want nil", err)
	}
	if got := keys(t, d, ""); !slices.Equal(got, []string{"dir/child", "file"}) {
		t.Fatalf("List = %q", got)
	}
}

// The crash test runs Put in a child process that is killed with SIGKILL halfway
// through writing the object.
const crashEnv = "OBJSTORE_CRASH_HELPER_ROOT"

// blockingReader hands out n bytes, announces that on stdout, then never returns.
type blockingReader struct{ n int }

func (b *blockingReader) Read(p []byte) (int, error) {
	if b.n <= 0 {
		fmt.Println("halfway")
		select {}
	}
	n := min(len(p), b.n)
	for i := range n {
		p[i] = 'n'
	}
	b.n -= n
	return n, nil
}

func (b *blockingReader) Seek(int64, int) (int64, error) { return 0, errors.New("not seekable") }

func TestCrashHelper(t *testing.T) {
	root := os.Getenv(crashEnv)
	if root == "" {
		t.Skip("run by TestDirCrashLeavesNoPartialObject")
	}
	d, err := NewDir(root)
	if err != nil {
		t.Fatal(err)
	}
	_ = d.Put(context.Background(), "backups/obj", &blockingReader{n: 1 << 20}, 2<<20)
	t.Fatal("Put returned from a reader that never ends")
}

func TestDirCrashLeavesNoPartialObject(t *testing.T) {
	d, ctx := newDir(t), context.Background()
	put(t, d, "backups/obj", "old")

	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), crashEnv+"="+d.Root())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "halfway\n" {
		t.Fatalf("helper said %q, %v", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	// The killed Put left its temporary file, holding the first half of the body...
	entries, err := os.ReadDir(filepath.Join(d.Root(), "backups"))
	if err != nil {
		t.Fatal(err)
	}
	var temps int
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			temps++
		}
	}
	if temps != 1 {
		t.Fatalf("found %d temporary files after the crash, want 1: %v", temps, entries)
	}
	// ...but the key still holds the old object, and listings do not show the rest.
	if got := get(t, d, "backups/obj"); got != "old" {
		t.Fatalf("object after crash = %.20q, want old", got)
	}
	if got := keys(t, d, ""); !slices.Equal(got, []string{"backups/obj"}) {
		t.Fatalf("List after crash = %q", got)
	}
	big := bytes.Repeat([]byte("N"), 3<<20)
	if err := d.Put(ctx, "backups/obj", bytes.NewReader(big), int64(len(big))); err != nil {
		t.Fatal(err)
	}
	if got := get(t, d, "backups/obj"); got != string(big) {
		t.Fatal("object after a retried Put differs from what was put")
	}
}

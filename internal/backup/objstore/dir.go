package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/cellplane/cellplane/internal/errdefs"
)

// Dir is a Store in a local directory: each object is a file at its key's path,
// mode 0600, under directories of mode 0700.
//
// A key that is also a prefix of other keys ("a" beside "a/b") cannot be stored,
// since one name cannot be both a file and a directory; Put reports it as
// errdefs.ErrInvalidRequest. Directories emptied by Delete are left in place.
type Dir struct {
	root string
}

// tmpPrefix names the files Put writes before renaming them into place. Keys with a
// segment starting with it are refused so List can tell the two apart.
const tmpPrefix = ".objstore-tmp-"

var _ Store = (*Dir)(nil)

// NewDir returns a Store rooted at root, creating the directory (mode 0700) if needed.
func NewDir(root string) (*Dir, error) {
	if root == "" {
		return nil, fmt.Errorf("%w: object store directory is empty", errdefs.ErrInvalidParameter)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("creating object store directory: %w", err)
	}
	return &Dir{root: filepath.Clean(root)}, nil
}

// Root is the directory the store keeps its objects in.
func (d *Dir) Root() string { return d.root }

func (d *Dir) path(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	for _, seg := range strings.Split(key, "/") {
		if strings.HasPrefix(seg, tmpPrefix) {
			return "", fmt.Errorf("%w: object key %q uses the reserved name %s", errdefs.ErrInvalidParameter, key, tmpPrefix)
		}
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put writes the next size bytes of r to a temporary file beside the object, syncs
// it, renames it over the key and syncs the directory: after a crash the key holds
// the old object or the whole new one, and at worst a temporary file is left over,
// which List ignores.
func (d *Dir) Put(ctx context.Context, key string, r io.ReadSeeker, size int64) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := validateSize(key, size); err != nil {
		return err
	}
	if err := d.put(ctx, p, r, size, false); err != nil {
		return fmt.Errorf("storing object %q: %w", key, conflict(err))
	}
	return nil
}

// Create is Put with a hard link in place of the rename: link(2) fails if the
// key exists, which makes the check and the write one step.
func (d *Dir) Create(ctx context.Context, key string, r io.ReadSeeker, size int64) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := validateSize(key, size); err != nil {
		return err
	}
	err = d.put(ctx, p, r, size, true)
	if errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Stat(p); serr == nil && fi.Mode().IsRegular() {
			return fmt.Errorf("creating object %q: %w", key, ErrExists)
		}
	}
	if err != nil {
		return fmt.Errorf("creating object %q: %w", key, conflict(err))
	}
	return nil
}

func (d *Dir) put(ctx context.Context, p string, r io.Reader, size int64, exclusive bool) (err error) {
	dir := filepath.Dir(p)
	if err := d.mkdirs(dir); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// The write already failed; what matters is that no partial
			// object is left, and a failed cleanup of a temp file changes
			// nothing for the caller.
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	n, err := io.Copy(f, ctxReader{ctx, io.LimitReader(r, size+1)})
	if err != nil {
		return fmt.Errorf("writing: %w", err)
	}
	if n != size {
		return fmt.Errorf("%w: body has %s bytes, size says %d", errdefs.ErrInvalidParameter, bodyLen(n, size), size)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if exclusive {
		err = os.Link(f.Name(), p)
		// The temporary name was only a staging link; with the object linked
		// (or refused) a leftover would be a stray file List ignores.
		_ = os.Remove(f.Name())
	} else {
		err = os.Rename(f.Name(), p)
	}
	if err != nil {
		return err
	}
	return syncDir(dir)
}

func bodyLen(n, size int64) string {
	if n > size {
		return "more than " + fmt.Sprint(size)
	}
	return fmt.Sprint(n)
}

// mkdirs creates dir and its missing parents below the root, syncing each parent
// it adds an entry to, so a synced object is not lost with its new directory.
func (d *Dir) mkdirs(dir string) error {
	if fi, err := os.Stat(dir); err == nil && fi.IsDir() {
		return nil
	}
	rel, err := filepath.Rel(d.root, dir)
	if err != nil {
		return err
	}
	cur := d.root
	for _, seg := range strings.Split(rel, string(filepath.Separator)) {
		parent := cur
		cur = filepath.Join(cur, seg)
		if err := os.Mkdir(cur, 0o700); errors.Is(err, fs.ErrExist) {
			continue
		} else if err != nil {
			return err
		}
		if err := syncDir(parent); err != nil {
			return err
		}
	}
	return nil
}

// conflict marks the errors of a key colliding with a directory of other keys, or
// of a key whose parent is an object.
func conflict(err error) error {
	if errors.Is(err, syscall.ENOTDIR) || errors.Is(err, syscall.EISDIR) || errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
		return fmt.Errorf("%w: a key cannot be both an object and a prefix of other keys in a directory store: %w", errdefs.ErrInvalidRequest, err)
	}
	return err
}

// Get opens the object's file.
func (d *Dir) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("opening object %q: %w", key, notFound(err))
	}
	fi, err := f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		_ = f.Close() // read-only, and the open is reported as failed anyway
		return nil, fmt.Errorf("opening object %q: %w", key, notFound(err))
	}
	return f, nil
}

// Stat describes the object's file.
func (d *Dir) Stat(ctx context.Context, key string) (Object, error) {
	p, err := d.path(key)
	if err != nil {
		return Object{}, err
	}
	fi, err := os.Stat(p)
	if err == nil && !fi.Mode().IsRegular() {
		err = fs.ErrNotExist
	}
	if err != nil {
		return Object{}, fmt.Errorf("describing object %q: %w", key, notFound(err))
	}
	return Object{Key: key, Size: fi.Size(), Modified: fi.ModTime()}, nil
}

// notFound maps "no such file" (and "a parent is a file") to errdefs.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return errdefs.ErrNotFound
	}
	return err
}

// List walks only the directory the prefix names, skipping temporary files.
func (d *Dir) List(ctx context.Context, prefix string) ([]Object, error) {
	if err := ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	base := d.root
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		base = filepath.Join(d.root, filepath.FromSlash(prefix[:i]))
	}
	var out []Object
	err := filepath.WalkDir(base, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if p == base && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == d.root {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if e.IsDir() {
			if !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() || strings.HasPrefix(e.Name(), tmpPrefix) || !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // deleted while we walked
		} else if err != nil {
			return err
		}
		out = append(out, Object{Key: key, Size: fi.Size(), Modified: fi.ModTime()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing objects under %q: %w", prefix, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete removes the object's file and syncs its directory.
func (d *Dir) Delete(ctx context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(notFound(err), errdefs.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("deleting object %q: %w", key, err)
	case fi.IsDir():
		return nil // a prefix of other keys, not an object
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("deleting object %q: %w", key, err)
	}
	if err := syncDir(filepath.Dir(p)); err != nil {
		return fmt.Errorf("deleting object %q: %w", key, err)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close() //nolint:errcheck // a directory opened to sync it; the sync's error is the one that counts
	if err := f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// ctxReader stops a long copy when its context ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

package pki

import (
	"fmt"
	"os"
	"path/filepath"
)

// CreateFileAtomic writes path only if it does not exist yet, with the same
// durability as WriteFileAtomic: the content is synced in a temporary file,
// hard-linked into place (which fails, wrapping fs.ErrExist, if path exists) and
// the directory synced. Of two processes racing to create one key file, exactly
// one wins and neither ever sees a short file.
func CreateFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return fmt.Errorf("creating directory: %w", err)
	}
	tmp, err := writeTemp(dir, filepath.Base(path), data, perm)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// The temporary name is only a staging link; once linked (or refused) it
	// goes, and a leftover would be a stray hidden file.
	defer removeAll([]string{tmp})
	if err := os.Link(tmp, path); err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	return syncDir(dir)
}

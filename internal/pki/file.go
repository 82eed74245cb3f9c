package pki

import (
	"fmt"
	"os"
	"path/filepath"
)

const (
	dirPerm  os.FileMode = 0o700
	keyPerm  os.FileMode = 0o600
	certPerm os.FileMode = 0o644
)

// WriteFileAtomic replaces path with data so that readers, and a process
// restarted after a crash, see either the old content or the new, never a
// torn file. Missing parent directories are created with mode 0700.
//
// The temporary file is created with mode 0600 and only chmod'ed to perm
// before the rename, so a private key is never readable by others, not even
// for a moment.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeFilesAtomic(filepath.Dir(path), []fileData{{path, data, perm}})
}

type fileData struct {
	path string
	data []byte
	perm os.FileMode
}

// writeFilesAtomic replaces files of one directory in order, each atomically,
// paying for a single directory sync.
func writeFilesAtomic(dir string, files []fileData) error {
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return fmt.Errorf("creating directory: %w", err)
	}
	if shared, err := sharedDir(dir); err != nil {
		return err
	} else if shared {
		files = groupReadable(files)
	}
	tmps, err := writeTemps(dir, files)
	if err != nil {
		return err
	}
	for i, f := range files {
		if err := os.Rename(tmps[i], f.path); err != nil {
			removeAll(tmps[i:])
			return fmt.Errorf("moving new file into place: %w", err)
		}
	}
	return syncDir(dir)
}

func writeTemps(dir string, files []fileData) ([]string, error) {
	var tmps []string
	for _, f := range files {
		tmp, err := writeTemp(dir, filepath.Base(f.path), f.data, f.perm)
		if err != nil {
			removeAll(tmps)
			return nil, fmt.Errorf("writing %s: %w", f.path, err)
		}
		tmps = append(tmps, tmp)
	}
	return tmps, nil
}

// removeAll cleans up temporary files after a failed write; the write's error
// is the one to report, and a leftover is only a stray hidden file.
func removeAll(paths []string) {
	for _, p := range paths {
		_ = os.Remove(p)
	}
}

// writeTemp writes data to a fresh file next to the target (rename is only
// atomic within one file system) and returns its name once it is durable.
func writeTemp(dir, base string, data []byte, perm os.FileMode) (string, error) {
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return "", err
	}
	err = fillFile(f, data, perm)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name()) // as in removeAll: err is what matters
		return "", err
	}
	return f.Name(), nil
}

func fillFile(f *os.File, data []byte, perm os.FileMode) error {
	if _, err := f.Write(data); err != nil {
		return err
	}
	// Chmod is not subject to the umask, so perm is exactly what lands.
	if err := f.Chmod(perm); err != nil {
		return err
	}
	return f.Sync()
}

// syncDir makes the rename itself durable; without it a power loss can bring
// back the old file, or none, after we reported success.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory: %w", err)
	}
	defer func() { _ = d.Close() }() // the Sync is what counts; closing a directory read nothing
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory: %w", err)
	}
	return nil
}

// sharedDirPerm is a shared directory's mode: its group reads, nobody else.
const sharedDirPerm os.FileMode = 0o750

// sharedDir reports whether dir is shared with its group: the setgid bit
// says so. A tenant cluster's processes run as a user of their own and read
// its keys through the group of its PKI directory (internal/runtime/tenantuser):
// the kernel gives new files a setgid directory's group, and this package
// makes them group-readable, so a key written or renewed there is readable by
// them at once and by nobody else.
func sharedDir(dir string) (bool, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return false, fmt.Errorf("checking directory: %w", err)
	}
	return fi.Mode()&os.ModeSetgid != 0, nil
}

// groupReadable lets the group read what its owner reads.
func groupReadable(files []fileData) []fileData {
	out := make([]fileData, len(files))
	for i, f := range files {
		f.perm |= (f.perm & 0o400) >> 3
		out[i] = f
	}
	return out
}

// ensureDir creates dir, and tightens it if it exists with a looser mode, as
// it holds private keys. A shared directory keeps its group's read access.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return fmt.Errorf("creating directory: %w", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("checking directory: %w", err)
	}
	want := dirPerm
	if fi.Mode()&os.ModeSetgid != 0 {
		want = sharedDirPerm | os.ModeSetgid
	}
	if fi.Mode()&(os.ModePerm|os.ModeSetgid) == want {
		return nil
	}
	if err := os.Chmod(dir, want); err != nil {
		return fmt.Errorf("restricting directory: %w", err)
	}
	return nil
}

// writePair renames the key into place before the certificate (both live in
// one directory): if we crash in between, the old certificate no longer
// matches the new key and the next run reissues, rather than keeping a pair
// that cannot be used.
func writePair(certPath, keyPath string, certPEM, keyPEM []byte) error {
	return writeFilesAtomic(filepath.Dir(certPath), []fileData{
		{keyPath, keyPEM, keyPerm},
		{certPath, certPEM, certPerm},
	})
}

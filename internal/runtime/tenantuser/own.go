package tenantuser

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/cellplane/cellplane/internal/runtime/process"
)

// Modes of a cluster's directories.
const (
	clusterDirMode  = 0o750                 // root:tenant, no writes
	sharedDirMode   = 0o750 | os.ModeSetgid // root:tenant, files group-readable
	writableDirMode = 0o770 | os.ModeSticky // root:tenant, the tenant adds its own files
	ownedDirMode    = 0o700                 // tenant:tenant
	groupRead       = 0o040                 // added to files of shared directories
	searchMode      = os.ModePerm | os.ModeSetgid | os.ModeSticky
)

// Dirs names the directories of one cluster by what the tenant does with them.
type Dirs struct {
	// Cluster is the cluster's directory, the processes' working directory.
	Cluster string
	// Shared are read by the tenant and written by cellplane: PKI, configs.
	// Their subdirectories are shared too.
	Shared []string
	// Writable take files the tenant writes besides cellplane's: logs.
	Writable []string
}

// Prepare lays out d for the tenant c. It changes only what differs, so it
// runs on every pass and repairs files left by an older cellplane or written
// by hand. It never follows a link.
func Prepare(d Dirs, c process.Credential) error {
	if err := os.MkdirAll(d.Cluster, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", d.Cluster, err)
	}
	if err := GrantTraverse(filepath.Dir(d.Cluster), TraverseGID); err != nil {
		return err
	}
	if err := setDir(d.Cluster, 0, c.GID, clusterDirMode); err != nil {
		return err
	}
	for _, dir := range d.Shared {
		if err := share(dir, c.GID); err != nil {
			return err
		}
	}
	for _, dir := range d.Writable {
		if err := setDir(dir, 0, c.GID, writableDirMode); err != nil {
			return err
		}
	}
	return nil
}

// share gives gid read access to dir's tree, which stays root's.
func share(root string, gid uint32) error {
	if err := os.MkdirAll(root, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", root, err)
	}
	return filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("sharing %s: %w", path, err)
		}
		switch {
		case e.IsDir():
			return setDir(path, 0, gid, sharedDirMode)
		case e.Type().IsRegular():
			return setFile(path, 0, gid, groupRead)
		}
		return nil // links and the like: left alone, never followed
	})
}

// OwnTree makes dir's whole tree the tenant's, dir itself 0700: what a
// process writes, such as an etcd member's data, which root may have
// restored or replaced while the member was stopped.
func OwnTree(dir string, c process.Credential) error {
	if err := os.MkdirAll(dir, ownedDirMode); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := setDir(dir, c.UID, c.GID, ownedDirMode); err != nil {
		return err
	}
	return filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("owning %s: %w", path, err)
		}
		if path == dir || e.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		return setOwner(path, c.UID, c.GID)
	})
}

func setDir(dir string, uid, gid uint32, mode os.FileMode) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	if err := setOwner(dir, uid, gid); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("checking %s: %w", dir, err)
	}
	if fi.Mode()&searchMode == mode {
		return nil
	}
	if err := os.Chmod(dir, mode); err != nil {
		return fmt.Errorf("setting mode of %s: %w", dir, err)
	}
	return nil
}

// setFile sets a file's owner and adds bits to its mode.
func setFile(path string, uid, gid uint32, add os.FileMode) error {
	if err := setOwner(path, uid, gid); err != nil {
		return err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	if fi.Mode().Perm()&add == add {
		return nil
	}
	if err := os.Chmod(path, fi.Mode().Perm()|add); err != nil {
		return fmt.Errorf("setting mode of %s: %w", path, err)
	}
	return nil
}

func setOwner(path string, uid, gid uint32) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("checking %s: %w", path, err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if ok && st.Uid == uid && st.Gid == gid {
		return nil
	}
	if err := os.Lchown(path, int(uid), int(gid)); err != nil {
		return fmt.Errorf("setting owner of %s: %w", path, err)
	}
	return nil
}

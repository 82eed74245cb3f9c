package tenantuser

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/sys/unix"
)

// POSIX ACL xattr format (linux/posix_acl_xattr.h): a version, then entries
// of tag, permissions and id, sorted by tag and id.
const (
	aclXattr    = "system.posix_acl_access"
	aclVersion  = 2
	aclUserObj  = 0x01
	aclUser     = 0x02
	aclGroupObj = 0x04
	aclGroup    = 0x08
	aclMask     = 0x10
	aclOther    = 0x20
	aclUndef    = 0xffffffff
	permExec    = 1
)

type aclEntry struct {
	tag  uint16
	perm uint16
	id   uint32
}

// GrantTraverse lets group gid search (not list) dir and every directory
// above it that others cannot already search, with one ACL entry each. Given
// a program rather than a directory, it lets gid run it (execute, not read).
func GrantTraverse(dir string, gid uint32) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("granting traversal: %w", err)
	}
	for {
		if err := grantSearch(dir, gid); err != nil {
			return err
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

func grantSearch(dir string, gid uint32) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("granting traversal of %s: %w", dir, err)
	}
	if fi.Mode().Perm()&0o001 != 0 {
		return nil // everyone may search it already
	}
	acl, err := readACL(dir, fi.Mode().Perm())
	if err != nil {
		return err
	}
	next, changed := withGroupSearch(acl, gid)
	if !changed {
		return nil
	}
	if err := unix.Setxattr(dir, aclXattr, encodeACL(next), 0); err != nil {
		return fmt.Errorf("granting traversal of %s: %w", dir, err)
	}
	return nil
}

// readACL reads dir's ACL, or the one its mode stands for when it has none.
func readACL(dir string, mode os.FileMode) ([]aclEntry, error) {
	buf := make([]byte, 4096)
	n, err := unix.Getxattr(dir, aclXattr, buf)
	if errors.Is(err, unix.ENODATA) {
		return []aclEntry{
			{aclUserObj, permBits(mode >> 6), aclUndef},
			{aclGroupObj, permBits(mode >> 3), aclUndef},
			{aclOther, permBits(mode), aclUndef},
		}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading ACL of %s: %w", dir, err)
	}
	return decodeACL(buf[:n])
}

// withGroupSearch adds search for gid and widens the mask to cover it; the
// mask never exceeds what the named entries and the owning group hold, so
// nobody else gains anything.
func withGroupSearch(acl []aclEntry, gid uint32) ([]aclEntry, bool) {
	out := slices.Clone(acl)
	i := slices.IndexFunc(out, func(e aclEntry) bool { return e.tag == aclGroup && e.id == gid })
	mi := slices.IndexFunc(out, func(e aclEntry) bool { return e.tag == aclMask })
	if i >= 0 && out[i].perm&permExec != 0 && mi >= 0 && out[mi].perm&permExec != 0 {
		return acl, false
	}
	if i >= 0 {
		out[i].perm |= permExec
	} else {
		out = append(out, aclEntry{aclGroup, permExec, gid})
	}
	var mask uint16
	for _, e := range out {
		if e.tag == aclGroupObj || e.tag == aclUser || e.tag == aclGroup {
			mask |= e.perm
		}
	}
	if mi >= 0 {
		// An existing mask may have narrowed the owning group; keep that.
		mask = out[mi].perm | permExec
		out[mi].perm = mask
	} else {
		out = append(out, aclEntry{aclMask, mask, aclUndef})
	}
	slices.SortFunc(out, func(a, b aclEntry) int {
		if a.tag != b.tag {
			return cmp.Compare(a.tag, b.tag)
		}
		return cmp.Compare(a.id, b.id)
	})
	return out, true
}

// permBits is the rwx triple in mode's lowest three bits.
func permBits(mode os.FileMode) uint16 {
	return uint16(mode & 7)
}

func encodeACL(acl []aclEntry) []byte {
	b := binary.LittleEndian.AppendUint32(nil, aclVersion)
	for _, e := range acl {
		b = binary.LittleEndian.AppendUint16(b, e.tag)
		b = binary.LittleEndian.AppendUint16(b, e.perm)
		b = binary.LittleEndian.AppendUint32(b, e.id)
	}
	return b
}

func decodeACL(b []byte) ([]aclEntry, error) {
	if len(b) < 4 || (len(b)-4)%8 != 0 || binary.LittleEndian.Uint32(b) != aclVersion {
		return nil, fmt.Errorf("reading ACL: malformed (%d bytes)", len(b))
	}
	var out []aclEntry
	for p := 4; p < len(b); p += 8 {
		out = append(out, aclEntry{
			tag:  binary.LittleEndian.Uint16(b[p:]),
			perm: binary.LittleEndian.Uint16(b[p+2:]),
			id:   binary.LittleEndian.Uint32(b[p+4:]),
		})
	}
	return out, nil
}

package tenantuser

import (
	"errors"
	"os"

	"github.com/cellplane/cellplane/internal/runtime/process"
)

// Base is the first id of cellplane's range: 0x71000000, above the ranges
// systemd hands to users, dynamic users and containers (up to 0x6FFFFFFF),
// below 2^31 for the tools that take ids as signed numbers. Base itself is
// the group every tenant shares to traverse to its own directory.
const Base = 0x71000000

// slotsPerCell bounds the address slots of one cell (ipam.MaxSlots is 2032).
const slotsPerCell = 4096

// TraverseGID is the group every tenant process holds besides its own: the
// group the directories above cluster directories let through.
const TraverseGID = Base

// ErrNeedsRoot says isolation was asked for without root.
var ErrNeedsRoot = errors.New("tenant isolation needs root")

// Available reports whether this process can isolate tenants: it must be
// root to change credentials, chown files and make namespaces and cgroups.
func Available() error {
	if os.Geteuid() != 0 {
		return ErrNeedsRoot
	}
	return nil
}

// For is the identity of the cluster in slot of the cell with octet: an
// address octet (1-255, ipam.Block) and slot (below ipam.MaxSlots) give every
// cluster of a machine its own id, beyond Base.
func For(octet, slot int) process.Credential {
	id := uint32(Base + (octet&0xff)*slotsPerCell + slot%slotsPerCell)
	return process.Credential{UID: id, GID: id, Groups: []uint32{TraverseGID}}
}

// Package zonenet owns the network namespaces a cell's zones live in when zone
// namespaces are on, and the faults injected into them. Each zone keeps its
// loopback addresses from the cell's plan but sits behind a veth pair to the
// host, so one zone can be cut off, silenced or slowed down while the others
// keep working. Only the cell's /16 leaves a zone: every other loopback
// address, 127.0.0.1 included, is the zone's own.
//
// Kernel state is the source of truth: every call recomputes what the zone
// should look like and makes the kernel match, so a cell that was killed and
// restarted repairs or clears whatever its predecessor left. The one fault that
// needs a live process is degrade: its packets pass through a TUN device this
// process reads and writes. When the process dies the TUN goes with it and the
// zone silently drops everything it sends, so a cell must set its faults again
// when it starts.
package zonenet

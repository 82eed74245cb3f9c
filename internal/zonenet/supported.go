package zonenet

import (
	"fmt"
	"os"

	"github.com/vishvananda/netns"
)

// Supported reports why this machine cannot run zone namespaces, or nil if
// it can: creating a namespace needs root (CAP_SYS_ADMIN), and degrade
// faults need /dev/net/tun.
func Supported() error {
	err := isolated(func() error {
		ns, err := netns.New()
		if err == nil {
			_ = ns.Close() // the namespace was made only to prove it can be
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("zone namespaces need root: cannot create a network namespace: %w", err)
	}
	fi, err := os.Stat("/dev/net/tun")
	if err != nil {
		return fmt.Errorf("zone faults need the TUN device: %w", err)
	}
	if fi.Mode()&os.ModeCharDevice == 0 {
		return fmt.Errorf("zone faults need the TUN device: /dev/net/tun is not a character device")
	}
	return nil
}

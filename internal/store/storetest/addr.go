package storetest

import (
	"fmt"
	"net"
	"os"

	"github.com/cellplane/cellplane/internal/ipam"
)

// Stores take addresses from 127.220.0.0 to 127.228.255.255: above the e2e
// suites' blocks (127.140-199) and a developer's instance (127.100-101), clear
// of the blocks benchmarks use (127.200-213, 127.232) and of those other
// package tests hard-code (127.229-231, 127.247-254).
const (
	firstOctet  = 220
	octets      = 9
	hostsPerNet = 256 * 254 // third octet 0-255, fourth 1-254
	claimTries  = 64
)

// candidate is the n-th address of the range, wrapping around.
func candidate(n int) net.IP {
	n %= octets * hostsPerNet
	// n is reduced modulo the range above, so every octet fits a byte.
	return net.IPv4(127, byte(firstOctet+n/hostsPerNet), byte(n/254%256), byte(n%254+1)).To4() //nolint:gosec // G115: see above
}

// claimAddress picks the store's address: the one our PID names, else the
// next. An address is ours once we hold its abstract socket, which the kernel
// frees when the process dies, however it dies: two test binaries running at
// once never share an address, and a crash leaves no claim behind. The probe
// of the store's ports then skips an address something else listens on, such
// as a benchmark, or the store of a binary that crashed.
func claimAddress() (net.IP, net.Listener, error) {
	base := os.Getpid()
	for i := range claimTries {
		ip := candidate(base + i)
		claim, err := net.Listen("unix", claimName(ip))
		if err != nil {
			continue
		}
		if portsFree(ip) == nil {
			return ip, claim, nil
		}
		_ = claim.Close() // give the address back: something else listens there
	}
	return nil, nil, fmt.Errorf("no free loopback address among %d from %s", claimTries, candidate(base))
}

// claimName is an abstract socket name (the leading @): no file, nothing to clean up.
func claimName(ip net.IP) string { return "@cellplane-storetest/" + ip.String() }

// portsFree reports an error if any port the store listens on is taken.
func portsFree(ip net.IP) error {
	for _, port := range []int{ipam.EtcdClientPort, ipam.EtcdPeerPort, ipam.APIServerPort} {
		ln, err := net.Listen("tcp", ipam.HostPort(ip, port))
		if err != nil {
			return err
		}
		_ = ln.Close() // the port was free; that was the question
	}
	return nil
}

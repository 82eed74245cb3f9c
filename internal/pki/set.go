package pki

import (
	"net"
	"slices"
)

// The helpers below treat SAN and organization lists as sets: order and
// duplicates in a request carry no meaning, and comparing them as lists would
// reissue certificates for nothing.

func uniqueStrings(in []string) []string {
	out := slices.Clone(in)
	slices.Sort(out)
	return slices.Compact(out)
}

func uniqueIPs(in []net.IP) []net.IP {
	seen := map[string]bool{}
	var out []net.IP
	for _, ip := range in {
		if s := ip.String(); !seen[s] {
			seen[s] = true
			out = append(out, ip)
		}
	}
	return out
}

func sameStrings(a, b []string) bool {
	return slices.Equal(uniqueStrings(a), uniqueStrings(b))
}

func sameIPs(a, b []net.IP) bool {
	return sameStrings(ipStrings(a), ipStrings(b))
}

// ipStrings normalises IPs, since a parsed IPv4 SAN is 4 bytes long while
// net.ParseIP returns 16.
func ipStrings(ips []net.IP) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip.String()
	}
	return out
}

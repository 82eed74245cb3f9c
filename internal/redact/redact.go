package redact

import "regexp"

// Placeholders that stand in for what was taken out, so a message still reads.
const (
	Path    = "<path>"
	Address = "<address>"
	PID     = "pid <hidden>"
)

var (
	// An IPv4 address with an optional port: the cells' members, load
	// balancers and stores sit on loopback addresses an attacker would map.
	addressPattern = regexp.MustCompile(`\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b`)
	// "pid 1234", "PID=1234", "pid: 1234", as process and supervisor errors
	// write them.
	pidPattern = regexp.MustCompile(`(?i)\bpid[ =:]*\d+`)
	// An absolute path: a slash at the start or after a separator, then
	// anything up to the next separator (a colon ends it: errors write
	// "open /x/y: permission denied"). URLs are not paths: their "//" follows
	// a scheme's colon, and their host was replaced above.
	pathPattern = regexp.MustCompile(`(^|[\s"'=(\[,;])/[^\s"',;:)\]]*`)
)

// Text returns s with paths, IP addresses and process IDs replaced by
// placeholders.
func Text(s string) string {
	if s == "" {
		return s
	}
	s = addressPattern.ReplaceAllString(s, Address)
	s = pidPattern.ReplaceAllString(s, PID)
	return pathPattern.ReplaceAllString(s, "${1}"+Path)
}

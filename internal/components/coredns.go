package components

import (
	"context"
	"path/filepath"
)

// CoreDNSVersion is the github.com/coredns/coredns module built for the
// CoreDNS managed add-on: the newest release the module proxy serves, whose
// go.mod asks for Go 1.26.
const CoreDNSVersion = "v1.15.0"

// CoreDNSBinaries are the paths of the CoreDNS build.
type CoreDNSBinaries struct {
	Version string
	CoreDNS string
}

// CoreDNS returns the CoreDNS server, building it if it is missing. Only
// what builds node images (and `cellplane components build --with-coredns`)
// asks for it: control planes never run it, so Cached does not count it.
func (c *Cache) CoreDNS(ctx context.Context) (CoreDNSBinaries, error) {
	dir := filepath.Join(c.cfg.CacheDir, "coredns-"+CoreDNSVersion)
	b := CoreDNSBinaries{Version: CoreDNSVersion, CoreDNS: filepath.Join(dir, "coredns")}
	return b, c.ensure(ctx, dir, coreDNSBuild())
}

// coreDNSBuild builds the coredns main package with its default plugin
// set (the one compiled into upstream's releases), stamping the commit
// variable its Makefile sets with the release, since a module build has no
// git checkout to read it from.
func coreDNSBuild() buildSpec {
	return buildSpec{
		title:    "CoreDNS " + CoreDNSVersion + " (coredns)",
		requires: []string{"github.com/coredns/coredns " + CoreDNSVersion},
		packages: []string{"github.com/coredns/coredns"},
		ldflags:  "-X github.com/coredns/coredns/coremain.GitCommit=" + CoreDNSVersion,
	}
}

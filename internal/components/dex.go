package components

import (
	"context"
	"path/filepath"
)

// DexVersion is the github.com/dexidp/dex module built as the OIDC issuer of
// the identity provider end-to-end test. Dex's go.mod names no /v2 suffix,
// so its v2 tags are not module versions: this is the pseudo-version of
// tag v2.45.1 (commit 11d2eeb52b42, 2026-03-03).
const DexVersion = "v0.0.0-20260303133905-11d2eeb52b42"

// DexRelease is the release tag DexVersion is, which the binary reports.
const DexRelease = "v2.45.1"

// DexBinaries are the paths of the dex build.
type DexBinaries struct {
	Version string
	Dex     string
}

// Dex returns the dex server, building it if it is missing. Only the
// identity provider test and `cellplane components build --with-dex` ask
// for it; nothing cellplane runs needs it, so Cached does not count it.
func (c *Cache) Dex(ctx context.Context) (DexBinaries, error) {
	dir := filepath.Join(c.cfg.CacheDir, "dex-"+DexVersion)
	b := DexBinaries{Version: DexVersion, Dex: filepath.Join(dir, "dex")}
	return b, c.ensure(ctx, dir, dexBuild())
}

// dexBuild builds cmd/dex with the version its own Makefile stamps. Built
// without cgo, dex has no SQLite storage; the test runs it on its memory
// storage. Its web templates are embedded in the binary.
func dexBuild() buildSpec {
	return buildSpec{
		title:    "dex " + DexRelease + " (dex)",
		requires: []string{"github.com/dexidp/dex " + DexVersion},
		packages: []string{"github.com/dexidp/dex/cmd/dex"},
		ldflags:  "-X main.version=" + DexRelease,
	}
}

#!/usr/bin/env bash
# Runs the pinned golangci-lint with .golangci.yml: `make lint` and hack/test.sh call
# it. Arguments are passed to `golangci-lint run` (default ./...), so one package tree
# can be checked alone: hack/lint.sh ./internal/lb/...
#
# The linter is built from its Go module on first use into the same cache as the
# components (outside any checkout, shared by all of them), so a machine needs only Go.
# A version of its own per directory: bumping GOLANGCI_LINT_VERSION builds anew and
# never runs a stale binary.
set -euo pipefail
cd "$(dirname "$0")/.."

GOLANGCI_LINT_VERSION=v2.15.0

# Same order as components.DefaultCacheDir.
cache=${CELLPLANE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/cellplane}
dir=$cache/tools/golangci-lint-$GOLANGCI_LINT_VERSION
bin=$dir/golangci-lint

if [ ! -x "$bin" ]; then
  echo "building golangci-lint $GOLANGCI_LINT_VERSION into $dir (once per machine)" >&2
  mkdir -p "$dir"
  # Into a temporary directory first, so an interrupted build never leaves a binary
  # that the check above would take for a finished one.
  tmp=$(mktemp -d "$dir/.build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  GOBIN=$tmp go install "github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$GOLANGCI_LINT_VERSION"
  mv "$tmp/golangci-lint" "$bin"
fi

[ $# -gt 0 ] || set -- ./...
exec "$bin" run "$@"

#!/usr/bin/env bash
# The whole test suite: what `make test` and CI run. It sets up what it needs itself:
# Go modules, the pinned components (built once per version into the cache outside
# the repo) and the cellplane binary.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s (%s)\n' "$1" "$(date +%H:%M:%S)"; }

step "Debian packages the tests use"
# The e2e suite drives the service with Debian's awscli (aws eks ...).
if [ ! -x /usr/bin/aws ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "awscli is missing: run 'sudo apt-get install awscli' (or run the tests as root)"; exit 1; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq awscli >/dev/null
fi
/usr/bin/aws --version

step "formatting and vet"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi
go vet ./...

step "generated code is current"
make --no-print-directory verify

# Components first: package tests run real etcd and kube-apiserver from the cache
# (internal/store/storetest), and fail without them.
step "components (cached by version in ${CELLPLANE_CACHE_DIR:-~/.cache/cellplane})"
go run ./cmd/cellplane components build --with-minio

step "unit and package tests"
go test -race -count=1 ./api/... ./internal/... ./config/... ./cmd/... ./test/framework/...

step "end-to-end tests with real etcd, kube-apiserver, controllers and kubectl"
go test -count=1 -timeout 45m -v ./test/e2e/...

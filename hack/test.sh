#!/usr/bin/env bash
# The whole test suite: what `make test` and CI run. It sets up what it needs itself:
# Go modules, the pinned linter and components (built once per version into the cache
# outside the repo) and the cellplane binary. It prints how long each step and each
# end-to-end test took, at the end, pass or fail.
set -euo pipefail
cd "$(dirname "$0")/.."

suite_start=$(date +%s)
steps=()
step_name=""
step_start=0

# step ends the running step (recording its time) and starts the next.
step() {
  end_step
  step_name=$1
  step_start=$(date +%s)
  printf '\n== %s (%s)\n' "$1" "$(date +%H:%M:%S)"
}

end_step() {
  if [ -n "$step_name" ]; then
    steps+=("$(printf '%6ss  %s' $(($(date +%s) - step_start)) "$step_name")")
    step_name=""
  fi
}

e2e_log=$(mktemp)
summary() {
  rc=$?
  end_step
  printf '\n== timings (exit %s, %ss in all)\n' "$rc" $(($(date +%s) - suite_start))
  printf '%s\n' "${steps[@]}"
  if [ -s "$e2e_log" ]; then
    printf '\n== end-to-end tests, slowest first\n'
    # Top-level tests only: "--- PASS: TestName (12.34s)".
    grep -E '^--- (PASS|FAIL|SKIP): Test' "$e2e_log" |
      sed -E 's/^--- ([A-Z]+): (Test[^ ]+) \(([0-9.]+)s\)$/\3 \1 \2/' |
      sort -rn | awk '{ printf "%7.1fs  %-4s  %s\n", $1, $2, $3 }'
  fi
  rm -f "$e2e_log"
}
trap summary EXIT

step "Debian packages the tests use"
# The e2e suite drives the service with Debian's awscli (aws eks ...); real
# nodes (internal/nodes/machine) run Debian's containerd 1.6, runc and CNI
# plugins. One apt-get update for whatever is missing.
missing=()
[ -x /usr/bin/aws ] || missing+=(awscli)
[ -x /usr/bin/containerd ] || missing+=(containerd)
[ -x /usr/sbin/runc ] || missing+=(runc)
[ -x /usr/lib/cni/bridge ] || missing+=(containernetworking-plugins)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "missing: run 'sudo apt-get install ${missing[*]}' (or run the tests as root)"; exit 1; fi
  # A policy-rc.d that refuses keeps the packages' services from starting:
  # every containerd here is a machine's own, started by the tests.
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  [ -z "$own_policy" ] || rm -f /usr/sbin/policy-rc.d
fi
/usr/bin/aws --version
/usr/bin/containerd --version

step "lint: golangci-lint, go vet and gofmt (the linter is built once per version into the cache)"
make --no-print-directory lint

step "generated code is current"
make --no-print-directory verify

# Components first: package tests run real etcd and kube-apiserver from the cache
# (internal/store/storetest), and fail without them.
step "components (cached by version in ${CELLPLANE_CACHE_DIR:-~/.cache/cellplane})"
# The default release (1.37) with everything the tests run on it, and 1.36's
# control plane only: the upgrade and rollback tests' older minor.
go run ./cmd/cellplane components build --with-tools --with-node --with-minio --with-dex --with-coredns
go run ./cmd/cellplane components build --release 1.36

step "unit and package tests"
go test -race -count=1 ./api/... ./internal/... ./config/... ./cmd/... ./test/framework/...

step "end-to-end tests with real etcd, kube-apiserver, controllers and kubectl"
go test -count=1 -timeout 60m -v ./test/e2e/... 2>&1 | tee "$e2e_log"

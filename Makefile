# cellplane: the targets people expect. `make help` lists them.
GO            ?= go
CONTROLLER_GEN = $(GO) run sigs.k8s.io/controller-tools/cmd/controller-gen@v0.20.1
BIN           := bin/cellplane
LINT_PKGS     ?= ./...

.PHONY: help build run down test test-unit test-e2e bench lint generate verify components components-sum clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## build bin/cellplane
	$(GO) build -o $(BIN) ./cmd/cellplane

run: build ## start cellplane on its embedded default (builds components on first use)
	./$(BIN) up

down: build ## stop everything make run left running, tenant control planes included (asks first; data is kept)
	./$(BIN) down

test: ## the whole suite: unit, generated-code check and end-to-end tests with real binaries
	./hack/test.sh

test-unit: components ## unit and package tests (some run a real store from the components)
	$(GO) test -race ./api/... ./internal/... ./config/... ./cmd/... ./test/framework/...

test-e2e: build components ## end-to-end tests against real etcd and kube-apiserver
	$(GO) test -count=1 -timeout 60m -v ./test/e2e/...

bench: build components ## benchmarks; record figures in docs/performance.md
	$(GO) test -count=1 -run '^$$' -bench . -benchtime 1x -timeout 60m ./test/bench/...

lint: ## golangci-lint (pinned, built on first use; .golangci.yml), go vet and gofmt; LINT_PKGS narrows it
	./hack/lint.sh $(LINT_PKGS)
	$(GO) vet $(LINT_PKGS)
	@# golangci-lint reads only the files built on this OS; gofmt also sees the others.
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); exit 1; }

generate: ## regenerate CRDs and deepcopy code
	$(CONTROLLER_GEN) object paths=./api/...
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd

verify: ## fail when generated files (CRDs, deepcopy) differ from a fresh make generate
	@tmp=$$(mktemp -d); cp -r api config $$tmp/; \
	$(MAKE) --no-print-directory generate >/dev/null; \
	diff -r $$tmp/api api && diff -r $$tmp/config config; rc=$$?; \
	rm -rf $$tmp; [ $$rc -eq 0 ] || { echo "generated files are stale: run make generate"; exit 1; }

components: build ## build the pinned upstream components into the cache (once per version)
	./$(BIN) components build --with-tools --with-minio
	./$(BIN) components build --release 1.36

components-sum: build ## record module checksums after adding a Kubernetes release
	./$(BIN) components build --all --with-tools --with-minio --with-dex --with-coredns --with-node --record-sums internal/components/components.sum

clean:
	rm -rf bin

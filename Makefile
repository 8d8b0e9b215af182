# kubectl-llmdbench — TL;DR:
#   make demo        the whole flow on an embedded local cluster with llm-d's simulator (make demo-down)
#   make build       build bin/kubectl-llmdbench
#   make test        lint + unit tests + bounded fuzzing + end-to-end tests on the local control plane (builds it if needed)
#   make install     install the plugin into $(GOBIN) (or $(GOPATH)/bin) so kubectl finds it
#   make localcluster / make sim / make e2e   build the local control plane / the simulator / run only the e2e tests
#   make dist krew-manifest verify-krew   release archives, plugins.yaml, and krew's own proof
#   make verify-dist                      the archives are reproducible and plugins.yaml names them
#   make image / verify-image             the native harness image (docker-save archive) and its proof

SHELL := /usr/bin/env bash
GO ?= go
BIN := bin/kubectl-llmdbench
# A release tag when there is one, else the VERSION file (krew wants vX.Y.Z).
VERSION ?= $(shell git describe --tags --exact-match --match 'v[0-9]*' 2>/dev/null || cat VERSION)
export VERSION
LDFLAGS := -s -w -X main.version=$(VERSION)
CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/kubectl-llmdbench
export CACHE_DIR
# One build configuration for vet, tests and binaries, so a cold machine compiles each package once.
export CGO_ENABLED := 0

demo:
	hack/demo.sh

demo-down:
	hack/demo.sh down

.PHONY: all demo demo-down build install test unit fuzz lint e2e localcluster sim deps dist verify-dist krew-manifest verify-krew image verify-image clean

all: build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/kubectl-llmdbench

install:
	$(GO) install -ldflags '$(LDFLAGS)' ./cmd/kubectl-llmdbench

lint:
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	cd hack/localcluster && $(GO) vet ./...
	cd hack/tools && $(GO) vet ./... && $(GO) test ./...

unit:
	$(GO) test ./pkg/... ./cmd/...
	cd hack/localcluster && $(GO) test ./...

# Every fuzz target, FUZZTIME (default 10s) each, beyond the seed corpora that unit already runs.
fuzz:
	hack/fuzz.sh

# System packages the tests need (busybox-static for the local cluster's pod roots, chromium for the
# HTML report's browser test), installed when missing.
deps:
	@hack/install-deps.sh

localcluster: deps
	@hack/localcluster/build.sh >/dev/null

sim:
	@hack/sim/build.sh >/dev/null

# The generator's accuracy tests (test/e2e/native) run alone: timing checks want idle cores.
# test/e2e/report renders `results report --html` in headless Chromium (make deps installs it).
e2e: localcluster sim build
	export LOCALCLUSTER_BIN=$$(hack/localcluster/build.sh) SIM_BIN=$$(hack/sim/build.sh) LLMDBENCH_PLUGIN=$(CURDIR)/$(BIN) && \
	  $(GO) test -count=1 -timeout 30m $$($(GO) list ./test/e2e/... | grep -v /test/e2e/native) && \
	  $(GO) test -count=1 -timeout 15m ./test/e2e/native

# Release archives for every platform, and the krew manifest rendered for them.
dist:
	hack/dist.sh

krew-manifest: dist
	$$(hack/tools/build.sh)/release manifest .krew.yaml dist $(VERSION) plugins.yaml

# Rebuilds dist/ and fails naming an archive that differs, or whose sha256 the committed
# plugins.yaml (when it names this VERSION) does not give.
verify-dist: dist
	@hack/verify-dist.sh

# Verifies a manifest rendered afresh for dist/ (leaving the committed plugins.yaml as it is).
verify-krew: dist
	@manifest=$$(mktemp --suffix=.yaml) && \
	  $$(hack/tools/build.sh)/release manifest .krew.yaml dist $(VERSION) $$manifest && \
	  hack/verify-krew.sh $$manifest; rc=$$?; rm -f $$manifest; exit $$rc

# The native harness image as a `docker save` archive (no container engine needed), and its proof.
image:
	@hack/image.sh

verify-image:
	@hack/verify-image.sh $$(hack/image.sh)

test: lint unit fuzz e2e verify-dist verify-krew verify-image

clean:
	rm -rf bin dist .localcluster

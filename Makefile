# earlyhints — build, test, lint.
#
#   make test    everything: vet, lint (the import rules of ARCHITECTURE.md
#                among them), the fast tests, then the slow ones
#                (integration, chromium); installs curl, chromium, fonts,
#                nghttp2-client, iproute2 and redis-server with apt-get
#                when missing.
#                With CI=true a dependency that cannot be installed fails.
#   make build   bin/earlyhints with the version stamped in
#   make lint    golangci-lint v2 at GOLANGCI_LINT_VERSION (installed with
#                go install when missing or another version; with CI=true
#                a failure to install fails)
#   make vet     go vet, without build tags and with the slow tests' tags
#                (integration, chromium), so tagged tests are vetted too
#   make fuzz    a short run of every Fuzz target
#   make bench   every benchmark once, the tagged ones (Redis, Chromium,
#                packet emulation) among them; those skip what is missing
#   make pgo     refresh cmd/earlyhints/default.pgo, the profile go build
#                optimises the binary with, from the proxy under load
#                (bench/profile.sh: needs h2load, curl, openssl, python3)

GO            ?= go
PKG           := github.com/earlyhints/earlyhints
VERSION       ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT        ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS       := -s -w -X $(PKG)/internal/cli.version=$(VERSION) -X $(PKG)/internal/cli.commit=$(COMMIT)
FAST_TIMEOUT  ?= 5m
SLOW_TIMEOUT  ?= 30m
FUZZTIME      ?= 10s
GOLANGCI_LINT_VERSION ?= v2.15.0
GOBIN         := $(shell $(GO) env GOPATH)/bin
# The golangci-lint on PATH when it is the pinned version, else the one go
# install puts in GOBIN.
GOLANGCI_LINT := $(shell command -v golangci-lint 2>/dev/null || echo $(GOBIN)/golangci-lint)

# command:debian-package pairs the slow tests need.
TEST_DEPS := curl:curl chromium:chromium firefox-esr:firefox-esr certutil:libnss3-tools nghttp:nghttp2-client ip:iproute2 redis-server:redis-server systemd-analyze:systemd
# Packages that provide no command: Chromium paints no text (so reports no
# first contentful paint) without a font, and installs none by itself when
# recommends are off.
TEST_PACKAGES := fonts-liberation

# The Caddy module is a Go module of its own (the main module never depends
# on Caddy): vetted and tested from its directory.
CADDY_DIR     := contrib/caddy

.PHONY: all test test-fast test-slow test-caddy deps build vet lint fuzz bench pgo clean

all: build

# SLOW_TAGS are the build tags of the slow tests and benchmarks.
SLOW_TAGS := integration,chromium,firefox

test: deps
	$(MAKE) vet
	$(MAKE) lint
	$(MAKE) test-fast test-slow test-caddy

test-fast:
	$(GO) test -count=1 -timeout $(FAST_TIMEOUT) ./...

test-slow:
	$(GO) test -count=1 -timeout $(SLOW_TIMEOUT) -tags $(SLOW_TAGS) ./...

# vet checks the code twice: as built by default, and with the slow tests'
# tags, whose files the first pass never reads.
vet:
	$(GO) vet ./...
	$(GO) vet -tags $(SLOW_TAGS) ./...
	cd $(CADDY_DIR) && $(GO) vet -tags $(SLOW_TAGS) ./...

test-caddy:
	cd $(CADDY_DIR) && $(GO) test -count=1 -timeout $(SLOW_TIMEOUT) -tags $(SLOW_TAGS) ./...

# deps installs what the slow tests run, only when a command is missing, so a
# prepared machine never touches apt.
deps:
	@missing=""; \
	for pair in $(TEST_DEPS); do \
	  command -v "$${pair%%:*}" >/dev/null 2>&1 || missing="$$missing $${pair#*:}"; \
	done; \
	for pkg in $(TEST_PACKAGES); do \
	  dpkg -s "$$pkg" >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	echo "installing with apt-get:$$missing"; \
	sudo=""; [ "$$(id -u)" = 0 ] || sudo="sudo"; \
	if $$sudo apt-get update && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y --no-install-recommends $$missing; then exit 0; fi; \
	if [ "$$CI" = "true" ]; then echo "error: could not install$$missing; the tests need them" >&2; exit 1; fi; \
	echo "warning: could not install$$missing; the tests that need them will be skipped" >&2

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/earlyhints ./cmd/earlyhints

# lint runs golangci-lint GOLANGCI_LINT_VERSION with .golangci.yml: the
# linters, gofumpt and depguard, which holds every import to the table of
# ARCHITECTURE.md. A missing golangci-lint, or another version, is replaced
# with go install (a few minutes, once). Where that fails (no module proxy)
# lint falls back to go vet and gofmt with a warning; with CI=true it fails.
lint:
	@lint="$(GOLANGCI_LINT)"; want="$(GOLANGCI_LINT_VERSION:v%=%)"; \
	if [ "$$("$$lint" version --short 2>/dev/null)" != "$$want" ]; then \
	  lint="$(GOBIN)/golangci-lint"; \
	  if [ "$$("$$lint" version --short 2>/dev/null)" != "$$want" ]; then \
	    echo "installing golangci-lint $(GOLANGCI_LINT_VERSION) with go install"; \
	    if ! GOBIN="$(GOBIN)" $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); then \
	      if [ "$$CI" = "true" ]; then \
	        echo "error: could not install golangci-lint $(GOLANGCI_LINT_VERSION); lint needs it (is the Go module proxy reachable?)" >&2; exit 1; \
	      fi; \
	      lint=""; \
	    fi; \
	  fi; \
	fi; \
	if [ -n "$$lint" ]; then \
	  "$$lint" run ./...; \
	else \
	  echo "warning: golangci-lint $(GOLANGCI_LINT_VERSION) unavailable; running go vet and gofmt only (no import rules checked)" >&2; \
	  $(GO) vet ./... && out="$$(gofmt -l .)" && { [ -z "$$out" ] || { echo "not gofmt-ed:"; echo "$$out"; exit 1; }; }; \
	fi

# fuzz runs each Fuzz target for FUZZTIME (go test allows one -fuzz target
# per run).
fuzz:
	@set -e; \
	for f in $$(grep -rl --include='*_test.go' '^func Fuzz' .); do \
	  dir=$$(dirname "$$f"); \
	  for name in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$f"); do \
	    echo "== $$dir $$name"; \
	    $(GO) test -run='^$$' -fuzz="^$$name$$" -fuzztime=$(FUZZTIME) "./$$dir"; \
	  done; \
	done

bench:
	$(GO) test -run='^$$' -bench=. -benchmem -tags $(SLOW_TAGS) ./...
	cd $(CADDY_DIR) && $(GO) test -tags $(SLOW_TAGS) -run='^$$' -bench=. -benchmem ./...

# pgo profiles the proxy under the loads every site sees (plain requests for
# a 1 KiB file, hinted navigations with a Cookie for a 20 KiB page) and
# merges the CPU profiles into cmd/earlyhints/default.pgo, which go build
# then uses by itself (-pgo=auto). Commit the refreshed file.
PGO_N ?= 30000
pgo:
	@set -e; out=$$(mktemp -d /tmp/eh-pgo.XXXXXX); \
	OUT=$$out/small LOADS=plain PAGE_BYTES=1024 N=$(PGO_N) bench/profile.sh; \
	OUT=$$out/large LOADS="nav cookie" PAGE_BYTES=20480 N=$(PGO_N) bench/profile.sh; \
	$(GO) tool pprof -proto $$out/small/plain.cpu.pprof $$out/large/nav.cpu.pprof $$out/large/cookie.cpu.pprof \
	  >cmd/earlyhints/default.pgo; \
	rm -rf $$out; echo "cmd/earlyhints/default.pgo refreshed; commit it"

clean:
	rm -rf bin

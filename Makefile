# Disaster Recovery plugin for Mattermost. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
NPM ?= npm
PLUGIN_ID := disaster-recovery
PLUGIN_VERSION := $(shell sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' plugin.json | head -1)
BUNDLE := dist/$(PLUGIN_ID)-$(PLUGIN_VERSION).tar.gz
PLATFORMS := linux-amd64 linux-arm64
LDFLAGS := -s -w -X github.com/mattermost/mattermost-plugin-disaster-recovery/server/plugin.Version=$(PLUGIN_VERSION)
# Tools are installed once into a cache outside the clone, keyed by version.
CACHE ?= $(or $(DR_CACHE_DIR),$(HOME)/.cache/disaster-recovery-plugin)
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(CACHE)/golangci-lint-$(GOLANGCI_LINT_VERSION)/golangci-lint
E2E_TIMEOUT ?= 40m
# Go packages of this project (webapp/node_modules ships Go files of its own).
GO_PACKAGES = ./server/... ./build/...

.PHONY: help all deps demo-deps dist drctl server webapp bundle deploy services check-style lint-go lint-webapp test unit-test webapp-test e2e contract-fixtures demo clean bench bench-deps

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*## "}{printf "  %-14s %s\n", $$1, $$2}'

all: check-style test dist ## Lint, test and build

dist: bundle drctl ## Build dist/<id>-<version>.tar.gz (server for linux-amd64/arm64, webapp, assets) and dist/drctl-<version>-linux-<arch>
	@echo "plugin bundle: $(BUNDLE)"
	@echo "restore tool: dist/drctl-$(PLUGIN_VERSION)-linux-amd64, dist/drctl-$(PLUGIN_VERSION)-linux-arm64"

drctl: ## Build the restore tool drctl for linux-amd64/arm64 into dist/
	@mkdir -p dist
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%-*}; arch=$${p#*-}; \
		echo "go build drctl ($$p)"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '-s -w -X main.version=$(PLUGIN_VERSION)' -o dist/drctl-$(PLUGIN_VERSION)-$$p ./server/cmd/drctl; \
	done

server: ## Build the server executables
	@mkdir -p server/dist
	@set -e; for p in $(PLATFORMS); do \
		os=$${p%-*}; arch=$${p#*-}; \
		echo "go build server ($$p)"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o server/dist/plugin-$$p ./server; \
	done

webapp/node_modules/.package-lock.json: webapp/package-lock.json
	cd webapp && $(NPM) ci --no-audit --no-fund

webapp: webapp/node_modules/.package-lock.json ## Build the webapp bundle
	cd webapp && $(NPM) run build

bundle: server webapp
	@rm -rf dist/$(PLUGIN_ID) && mkdir -p dist/$(PLUGIN_ID)/server/dist dist/$(PLUGIN_ID)/webapp/dist
	@cp plugin.json dist/$(PLUGIN_ID)/
	@cp -r assets dist/$(PLUGIN_ID)/
	@cp server/dist/plugin-* dist/$(PLUGIN_ID)/server/dist/
	@cp webapp/dist/main.js dist/$(PLUGIN_ID)/webapp/dist/
	@cd dist && tar -czf $(PLUGIN_ID)-$(PLUGIN_VERSION).tar.gz $(PLUGIN_ID)

deploy: dist ## Upload and enable the bundle on $$MM_SERVICESETTINGS_SITEURL (MM_ADMIN_TOKEN, or MM_ADMIN_USERNAME and MM_ADMIN_PASSWORD)
	$(GO) run ./build/cmd/deploy $(BUNDLE)

$(GOLANGCI_LINT):
	@echo "installing golangci-lint $(GOLANGCI_LINT_VERSION) into $(dir $@)"
	GOBIN=$(dir $@) GOFLAGS=-mod=mod $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)

check-style: lint-go lint-webapp ## golangci-lint, eslint and tsc --noEmit

lint-go: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run $(GO_PACKAGES)

lint-webapp: webapp/node_modules/.package-lock.json
	cd webapp && $(NPM) run lint && $(NPM) run check-types

services: ## Build (once, cached by version) the Mattermost server and MinIO the tests run
	bash build/scripts/mattermost-server.sh >/dev/null
	bash build/scripts/minio.sh >/dev/null

deps: ## Install what a new Debian machine lacks for the tests (as root; otherwise prints the apt-get line to run)
	bash build/scripts/install-deps.sh test

demo-deps:
	bash build/scripts/install-deps.sh demo

bench-deps:
	bash build/scripts/install-deps.sh bench

test: deps check-style unit-test webapp-test e2e ## Everything: lint, unit tests (-race), webapp tests, end-to-end tests on a real server

unit-test: services ## Go unit tests with the race detector (storage tests use a real MinIO)
	$(GO) test -race -count=1 -timeout 20m $(GO_PACKAGES)

webapp-test: webapp/node_modules/.package-lock.json ## Webapp component tests
	cd webapp && $(NPM) test

e2e: dist services ## End-to-end tests on a throwaway PostgreSQL + Mattermost (built once, cached)
	$(GO) test -tags e2e -count=1 -p 1 -timeout $(E2E_TIMEOUT) -v ./server/e2e/... 2>&1 | tee $(CURDIR)/dist/e2e.log | grep --line-buffered -E '^(=== RUN|--- |PASS|FAIL|ok|panic|harness:|region loss:|restore proof:|RPO )|_test.go'; exit $${PIPESTATUS[0]}

contract-fixtures: dist services ## Refresh webapp/src/api/__fixtures__ (GET answers of a real server the webapp's contract test checks types.ts against; failover.json comes from the browser test's runbook)
	DR_SAVE_CONTRACT=$(CURDIR)/webapp/src/api/__fixtures__ $(GO) test -tags e2e -count=1 -p 1 -run '^(TestContractWebappAPI|TestConsoleDashboardInBrowser)$$' -v ./server/e2e/

demo: demo-deps dist ## Start PostgreSQL + Mattermost with the plugin, run the main job; Ctrl-C ends it (DEMO_EXIT=1 to return after the job)
	$(GO) run ./build/cmd/demo

clean: ## Remove build output
	rm -rf dist server/dist webapp/dist

bench: bench-deps dist ## Backup benchmark on a real server: ours vs pg_dump + tar czf and vs pgBackRest + restic, incremental, restore, peak RSS (DR_BENCH_SCALE=0.05 for a quick run); table in dist/bench.txt; then the status route's latency and the plugin's RSS while archiving WAL for an hour (scaled)
	$(GO) test -tags bench -count=1 -run '^$$' -bench '^BenchmarkBackup$$' -benchtime 1x -timeout 4h ./build/bench/
	$(GO) test -tags bench -count=1 -run '^$$' -bench '^BenchmarkStatus$$' -benchtime 1x -timeout 30m ./build/bench/ 2>&1 | tee -a dist/bench.txt | grep -E '^(Benchmark|bench:)'
	$(GO) test -tags bench -count=1 -run '^$$' -bench '^BenchmarkArchiving$$' -benchtime 1x -timeout 2h ./build/bench/ 2>&1 | tee -a dist/bench.txt | grep -E '^(Benchmark|bench:)'

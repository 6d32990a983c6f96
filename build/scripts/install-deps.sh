#!/usr/bin/env bash
# Installs what a new Debian machine lacks to run the demo or the tests; `make demo` and
# `make test` (and .ci/run) run it first. Safe to run again: it installs only what is missing.
#   install-deps.sh demo   PostgreSQL (server and client) for the throwaway cluster
#   install-deps.sh [test] also what the tests drive: age, zstd, Chromium, Prometheus
#   install-deps.sh bench  demo's, and the peers `make bench` measures against: pgBackRest, restic
# As root it runs apt-get; otherwise it prints the one apt-get line to run and fails.
set -euo pipefail
cd "$(dirname "$0")/../.."
mode=${1:-test}
case $mode in demo|test|bench) ;; *) echo "usage: $0 [demo|test|bench]" >&2; exit 2 ;; esac

need=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v pg_dump >/dev/null || need+=(postgresql-client)
if [ "$mode" = test ]; then
  command -v age >/dev/null || need+=(age)   # tests decrypt backups with the stock tools an admin has
  command -v zstd >/dev/null || need+=(zstd)
  # The System Console dashboard's real-browser test (server/e2e/console_test.go) drives Debian's
  # Chromium with playwright-core; it never downloads a browser of its own.
  [ -x /usr/bin/chromium ] || need+=(chromium)
  # promtool checks and unit-tests the shipped alert rules; a real Prometheus scrapes the plugin.
  command -v promtool >/dev/null || need+=(prometheus)
fi
if [ "$mode" = bench ]; then
  command -v pgbackrest >/dev/null || need+=(pgbackrest)
  command -v restic >/dev/null || need+=(restic)
fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing ${need[*]}; run this, then again what you ran:" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${need[*]}" >&2
    exit 1
  fi
  echo "install-deps: apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

go_need=$(sed -n 's/^go \([0-9.]*\)$/\1/p' go.mod)
for tool in go node npm; do
  command -v "$tool" >/dev/null || { echo "install-deps: $tool is required (Go $go_need+, Node.js 20+): https://go.dev/dl/, https://nodejs.org/" >&2; exit 1; }
done
echo "install-deps: ok for $mode ($(go version | cut -d' ' -f3), node $(node --version), $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' '))"

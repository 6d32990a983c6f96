#!/usr/bin/env bash
# Installs what a new Debian machine lacks to build and test the plugin: PostgreSQL's server
# (for the throwaway test clusters). Go and Node.js are expected on the machine.
# Safe to run again: it installs only what is missing.
set -euo pipefail

need=()
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || need+=(postgresql)
command -v pg_dump >/dev/null || need+=(postgresql-client)
command -v age >/dev/null || need+=(age)   # tests decrypt backups with the stock tools an admin has
command -v zstd >/dev/null || need+=(zstd)
# The System Console dashboard's real-browser test (server/e2e/console_test.go) drives Debian's
# Chromium with playwright-core; it never downloads a browser of its own.
[ -x /usr/bin/chromium ] || need+=(chromium)
# promtool checks and unit-tests the shipped alert rules; prometheus runs them in an e2e test.
command -v promtool >/dev/null || need+=(prometheus)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing ${need[*]}: install them (sudo apt-get install -y ${need[*]})" >&2
    exit 1
  fi
  echo "install-deps: apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

for tool in go node npm; do
  command -v "$tool" >/dev/null || { echo "install-deps: $tool is required (Go 1.25+, Node.js 20+)" >&2; exit 1; }
done
echo "install-deps: ok ($(go version | cut -d' ' -f3), node $(node --version), $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' '))"

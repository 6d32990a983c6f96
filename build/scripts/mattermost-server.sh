#!/usr/bin/env bash
# Builds (once) the Mattermost server the end-to-end tests run, from its Go module at a pinned
# version, into a cache folder outside the clone keyed by that version. Prints the folder.
# The server module is never added to the plugin's go.mod: it is built in a throwaway module.
set -euo pipefail

MM_SERVER_MODULE_VERSION=${MM_SERVER_MODULE_VERSION:-v8.0.0-20260113162330-9e1d4c2072c0} # server 11.4.0
MM_PUBLIC_VERSION=${MM_PUBLIC_VERSION:-v0.1.22-0.20260113165922-8e4cadbc88ee}
CACHE=${DR_CACHE_DIR:-$HOME/.cache/disaster-recovery-plugin}
OUT=$CACHE/mattermost-$MM_SERVER_MODULE_VERSION

if [ -x "$OUT/bin/mattermost" ] && [ -f "$OUT/.complete" ]; then
  echo "$OUT"
  exit 0
fi

export GONOSUMDB=github.com/mattermost GOFLAGS=-mod=mod GOTOOLCHAIN=local
mod=github.com/mattermost/mattermost/server/v8
tmp=$(mktemp -d "$CACHE.build.XXXXXX" 2>/dev/null || { mkdir -p "$CACHE"; mktemp -d "$CACHE.build.XXXXXX"; })
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
printf 'module local/mmserver\n\ngo 1.25\n' > go.mod
echo "building Mattermost server $MM_SERVER_MODULE_VERSION (a few minutes, once per version)..." >&2
go mod download "$mod@$MM_SERVER_MODULE_VERSION"
M=$(go env GOMODCACHE)/$mod@$MM_SERVER_MODULE_VERSION
{ printf 'module local/mmserver\n\ngo 1.25\n\nrequire %s %s\n' "$mod" "$MM_SERVER_MODULE_VERSION"
  sed -n '/^require (/,/^)/p' "$M/go.mod"; grep '^replace' "$M/go.mod" || true; } > go.mod
cp "$M/go.sum" go.sum
chmod u+w go.sum
go mod edit -require="github.com/mattermost/mattermost/server/public@$MM_PUBLIC_VERSION"
mkdir -p stage/bin
go build -trimpath -o stage/bin/mattermost "$mod/cmd/mattermost"
for d in i18n templates fonts; do cp -r "$M/$d" stage/; done
chmod -R u+w stage
rm -rf "$OUT"
mkdir -p "$(dirname "$OUT")"
mv stage "$OUT"
touch "$OUT/.complete"
echo "$OUT"

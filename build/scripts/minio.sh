#!/usr/bin/env bash
# Builds (once) the MinIO server and the mc client the S3 tests run, from their Go modules at
# pinned versions, into a cache folder outside the clone keyed by those versions. Prints the
# folder (holding `minio` and `mc`). MinIO and mc are AGPL: they are only ever built and run as
# separate programs, never imported into the plugin's go.mod.
set -euo pipefail

MINIO_VERSION=${MINIO_VERSION:-v0.0.0-20260212201848-7aac2a2c5b7c}
MC_VERSION=${MC_VERSION:-v0.0.0-20250313080218-cf909e1063a9}
CACHE=${DR_CACHE_DIR:-$HOME/.cache/disaster-recovery-plugin}
OUT=$CACHE/minio-$MINIO_VERSION
STAMP="minio@$MINIO_VERSION mc@$MC_VERSION"

built() { [ -x "$OUT/minio" ] && [ -x "$OUT/mc" ] && [ "$(cat "$OUT/.complete" 2>/dev/null)" = "$STAMP" ]; }
if built; then
  echo "$OUT"
  exit 0
fi

# Test packages run in parallel and may all ask at once: one builds, the others wait for it.
mkdir -p "$CACHE"
if command -v flock >/dev/null; then
  exec 9>"$OUT.lock"
  flock 9
  if built; then
    echo "$OUT"
    exit 0
  fi
fi

# Outside any module: `go install pkg@version` builds with the tool's own go.mod.
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
tmp=$(mktemp -d "$CACHE/.minio-build.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
echo "building MinIO $MINIO_VERSION and mc $MC_VERSION (a few minutes, once per version)..." >&2
GOBIN=$tmp/bin go install -trimpath "github.com/minio/minio@$MINIO_VERSION"
GOBIN=$tmp/bin go install -trimpath "github.com/minio/mc@$MC_VERSION"
rm -rf "$OUT"
mv -T "$tmp/bin" "$OUT"
printf '%s\n' "$STAMP" > "$OUT/.complete"
echo "$OUT"

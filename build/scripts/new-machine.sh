#!/usr/bin/env bash
# Proves that the README's two commands install what a new Debian 12 machine lacks: in a fresh
# debootstrap'ed Debian (no PostgreSQL, age, zstd, Chromium, Prometheus), a fresh clone of this
# repository runs `make demo DEMO_EXIT=1` (which must install PostgreSQL first) and `make deps`
# (the rest of what `make test` needs), as root; and as a user, both print the apt-get line.
# Needs root and debootstrap. Go, Node.js, the Go module cache and the Mattermost/MinIO builds
# come from this machine (bind mounts): the point is the system packages. Takes ~10 minutes.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "new-machine: run as root (it debootstraps and chroots)" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "new-machine: apt-get install -y debootstrap" >&2; exit 2; }
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${DR_CACHE_DIR:-$HOME/.cache/disaster-recovery-plugin}
root=$cache/new-machine-bookworm
[ -x "$root/bin/bash" ] || debootstrap --variant=minbase --include=make,git,ca-certificates,procps bookworm "$root" http://deb.debian.org/debian
mounts=()
bind() {
  if [ -d "$1" ]; then mkdir -p "$root$2"; else mkdir -p "$(dirname "$root$2")"; [ -e "$root$2" ] || touch "$root$2"; fi
  mount --bind "$1" "$root$2"
  mounts=("$root$2" "${mounts[@]}")
}
cleanup() { for m in "${mounts[@]}"; do umount "$m" 2>/dev/null || true; done; }
trap cleanup EXIT
bind /proc /proc; bind /sys /sys; bind /dev /dev; bind /dev/pts /dev/pts
bind "$(dirname "$(dirname "$(readlink -f "$(command -v go)")")")" /usr/local/go
bind "$(readlink -f "$(command -v node)")" /usr/bin/node
bind /usr/lib/node_modules /usr/lib/node_modules
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/bin/npm"
bind "$(go env GOMODCACHE)" /root/go/pkg/mod
bind "$cache" /root/.cache/disaster-recovery-plugin
bind "$repo" /src
cp /etc/resolv.conf "$root/etc/resolv.conf"
cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/go/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt GOFLAGS=-modcacherw bash -euo pipefail -c '
update-ca-certificates >/dev/null 2>&1
export DEBIAN_FRONTEND=noninteractive
apt-get purge -y -qq "postgresql*" age zstd chromium prometheus >/dev/null 2>&1 || true
apt-get autoremove -y -qq --purge >/dev/null 2>&1 || true
git config --global --add safe.directory "*"
rm -rf /tmp/dr && git clone -q /src /tmp/dr && cd /tmp/dr && git log --oneline -1
for t in initdb pg_dump age zstd chromium promtool; do ! command -v $t >/dev/null || { echo "new-machine: $t is still installed"; exit 1; }; done
chown -R nobody /tmp/dr
for target in demo-deps deps; do
  if su nobody -s /bin/bash -c "cd /tmp/dr && make $target" 2>/tmp/out; then echo "new-machine: make $target passed without root"; exit 1; fi
  grep -q "apt-get install -y" /tmp/out || { cat /tmp/out; exit 1; }
  echo "new-machine: as a user, make $target says: $(grep apt-get /tmp/out | tr -s " ")"
done
chown -R root /tmp/dr
make demo DEMO_EXIT=1
make deps
for t in initdb pg_dump age zstd chromium promtool; do command -v $t >/dev/null || ls /usr/lib/postgresql/*/bin/$t >/dev/null; done
echo "new-machine: make demo and make deps installed what was missing and passed"'

#!/usr/bin/env bash
# Creates the unprivileged users the tests run berth as (run as root; idempotent):
#   berth-sub    with a 65536-ID range in /etc/subuid and /etc/subgid (the normal rootless path)
#   berth-nosub  with no range (the single-ID fallback)
# and makes the host look like a distribution's: /dev/net/tun and /dev/fuse 0666.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "rootless-user.sh: run as root" >&2; exit 1; }

ensure_user() {
  id "$1" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$1"
}
ensure_user berth-sub
ensure_user berth-nosub
grep -q '^berth-sub:' /etc/subuid || echo 'berth-sub:200000:65536' >>/etc/subuid
grep -q '^berth-sub:' /etc/subgid || echo 'berth-sub:200000:65536' >>/etc/subgid
sed -i '/^berth-nosub:/d' /etc/subuid /etc/subgid

[ -e /dev/net/tun ] || { mkdir -p /dev/net; mknod -m 0666 /dev/net/tun c 10 200; }
[ -e /dev/fuse ] || mknod -m 0666 /dev/fuse c 10 229
chmod 0666 /dev/net/tun /dev/fuse

#!/usr/bin/env bash
# Builds the Debian minbase root filesystem that the container tests run real distribution
# programs in (run as root; idempotent, and quick once cached):
#   debootstrap --variant=minbase bookworm <this machine's Debian mirror>
# packed as /var/cache/berth-test/minbase.tar (numeric owners, no device nodes, no .debs).
# Tests that need it skip when the tarball is missing, or fail under BERTH_TEST_REQUIRE_ROOTLESS.
#
# Environment: BERTH_MINBASE (the tarball's path), BERTH_MINBASE_SUITE (default bookworm),
# BERTH_MINBASE_MIRROR (default: the first Debian URI of the apt sources),
# BERTH_MINBASE_INCLUDE (extra packages, comma-separated: the python fixture is this minbase
# plus python3, python3-pip and python3-venv). The host's CA bundle is copied in, so that
# HTTPS through this machine's TLS-intercepting proxy works inside.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "minbase.sh: run as root" >&2; exit 1; }

target=${BERTH_MINBASE:-/var/cache/berth-test/minbase.tar}
suite=${BERTH_MINBASE_SUITE:-bookworm}

if [ -s "$target" ]; then
  exit 0
fi

# The first URI of a stanza (deb822) or line (one-line format) that serves the suite itself,
# not -security or -updates.
mirror_from_sources() {
  local file
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    awk -v suite="$suite" '
      function flush() { if (!done && uri != "" && deb && has) { print uri; done = 1; exit } uri = ""; deb = 0; has = 0 }
      /^[[:space:]]*$/ { flush(); next }
      tolower($1) == "types:" { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
      tolower($1) == "uris:" { uri = $2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) has = 1 }
      END { flush() }
    ' /etc/apt/sources.list.d/debian.sources | head -n1
  fi
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -r "$file" ] || continue
    # deb [options] URI SUITE COMPONENTS…
    sed -e 's/\[[^]]*\]//' "$file" |
      awk -v suite="$suite" '$1 == "deb" && $3 == suite { print $2; exit }'
  done
}
mirror=${BERTH_MINBASE_MIRROR:-$(mirror_from_sources | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}

if ! command -v debootstrap >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends debootstrap
fi

mkdir -p "$(dirname "$target")"
# One builder at a time; a second caller waits and then finds the tarball.
exec 9>"$target.lock"
flock 9
if [ -s "$target" ]; then
  exit 0
fi

work=$(mktemp -d "$(dirname "$target")/minbase.XXXXXX")
trap 'rm -rf "$work"' EXIT
include=${BERTH_MINBASE_INCLUDE:-}
echo "minbase.sh: debootstrap --variant=minbase ${include:+--include=$include }$suite from $mirror (a few minutes, once)" >&2
debootstrap --variant=minbase ${include:+--include="$include"} "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || {
  tail -n 30 "$work/debootstrap.log" >&2
  echo "minbase.sh: debootstrap failed (the full log was $work/debootstrap.log)" >&2
  exit 1
}
if [ -s /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$work/rootfs/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$work/rootfs/etc/ssl/certs/ca-certificates.crt"
fi
rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"* \
  "$work/rootfs/dev/"*
tar --numeric-owner --xattrs --xattrs-include='security.capability' \
  -C "$work/rootfs" -cf "$work/minbase.tar" .
chmod 0644 "$work/minbase.tar"
mv "$work/minbase.tar" "$target"
echo "minbase.sh: wrote $target ($(du -h "$target" | cut -f1))" >&2

#!/usr/bin/env bash
# Build benchmark: berth beside buildah (bud --layers) on ../shared/lab/small, rootless as the
# same user, each with a private store. Prints medians and ratios. Not a test.
#
#   contrib/bench/build.sh [path/to/berth]      (default: target/release/berth)
#
# Goals (issue 5): lab/small fully cached <= 0.04x buildah; cold (base present, --no-cache)
# <= 0.5x; after touching one COPY source's mtime a full cache hit, <= 0.04x; after editing
# one COPY source <= 0.4x.
set -euo pipefail
cd "$(dirname "$0")/../.."
BERTH=$(realpath "${1:-target/release/berth}")
USER_NAME=${BENCH_USER:-berth-sub}
RUNS=${RUNS:-10}
command -v buildah >/dev/null || { echo "missing buildah (apt-get install buildah)" >&2; exit 1; }
LAB=$(realpath ../shared/lab)
PEER=buildah
# shellcheck source=contrib/bench/lib.sh
. contrib/bench/lib.sh

cp -a "$LAB/small" "$WORK/small"
"$WORK/small/gen-context.sh" "$WORK/small"
chown -R "$USER_NAME" "$WORK/small"
BA="buildah --root $WORK/buildah --runroot $WORK/buildrun --storage-driver overlay"
# Where podman needed runc (crun refuses this host's hybrid cgroups), buildah does too.
case "$P" in *"--runtime runc"*) BUD="bud --runtime runc" ;; *) BUD="bud" ;; esac
as_user $P save -o "$WORK/busybox-archive.tar" busybox >/dev/null 2>&1
chown "$USER_NAME" "$WORK/busybox-archive.tar"
as_user $BA pull -q "docker-archive:$WORK/busybox-archive.tar" >/dev/null
as_user $BA tag "$(as_user $BA images -q | head -1)" docker.io/library/busybox:latest >/dev/null
cd "$WORK"

as_user $B build -q -t lab-small small >/dev/null
as_user $BA $BUD --layers -q -t lab-small small >/dev/null 2>&1
echo "== lab/small (median of $RUNS)"
bench "fully cached rebuild" "$B build -q -t lab-small small" "$BA $BUD --layers -q -t lab-small small"
cat >"$WORK/touch.sh" <<EOS
#!/bin/sh
touch $WORK/small/ctx/d3/f0042.txt && exec "\$@"
EOS
cat >"$WORK/edit.sh" <<EOS
#!/bin/sh
echo "edit \$(date +%s%N)" >> $WORK/small/ctx/d3/f0042.txt && exec "\$@"
EOS
chmod +x "$WORK"/touch.sh "$WORK"/edit.sh; chown "$USER_NAME" "$WORK"/touch.sh "$WORK"/edit.sh
bench "after touching one source (mtime)" "$WORK/touch.sh $B build -q -t lab-small small" \
  "$WORK/touch.sh $BA $BUD --layers -q -t lab-small small"
RUNS=5 bench "after editing one source" "$WORK/edit.sh $B build -q -t lab-small small" \
  "$WORK/edit.sh $BA $BUD --layers -q -t lab-small small"
RUNS=5 bench "cold (--no-cache, base present)" "$B build -q --no-cache -t lab-small small" \
  "$BA $BUD --layers --no-cache -q -t lab-small small"

echo "== memory: a build whose context holds 1 GB (COPY . /ctx)"
mkdir -p "$WORK/big"
head -c 1073741824 /dev/urandom >"$WORK/big/data.bin"
printf 'FROM busybox\nCOPY . /ctx\n' >"$WORK/big/Dockerfile"
chown -R "$USER_NAME" "$WORK/big"
as_user /usr/bin/time -f '%M' -o "$WORK/rss-b" $B build -q -t big big >/dev/null
as_user /usr/bin/time -f '%M' -o "$WORK/rss-p" $BA $BUD --layers -q -t big big >/dev/null 2>&1
printf 'peak RSS, 1 GB context                   berth %6d KB   buildah %6d KB\n' "$(tail -1 "$WORK/rss-b")" "$(tail -1 "$WORK/rss-p")"

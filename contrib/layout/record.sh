#!/usr/bin/env bash
# Records which of berth's functions its everyday commands run, in the order they first run,
# into contrib/layout/symbol-order.txt. build.rs hands that file to the linker for release
# builds, which then places those functions together at the start of .text.
#
# Why: the kernel maps a binary's code in 64 KB windows around each page touched. Spread over
# 13 MB of code, the few thousand functions a `run --rm` calls kept 8 MB of it resident (the
# bulk of the command's peak RSS); packed together they take little more than their own size.
#
# Run as root (it switches to an unprivileged user) after `cargo build --release`; needs perf
# and busybox-static. Sampling: each run of the workload adds the functions it caught; more
# runs catch more of the small ones. Symbol names carry cargo's per-build hashes: record again
# after upgrading rustc or dependencies (stale names are skipped by the linker, harmlessly).
#
#   contrib/layout/record.sh [path/to/berth]      (default: target/release/berth)
set -euo pipefail
cd "$(dirname "$0")/../.."
[ "$(id -u)" = 0 ] || { echo "record.sh: run as root (it switches to an unprivileged user)" >&2; exit 1; }
for tool in perf busybox; do
  command -v "$tool" >/dev/null || { echo "record.sh: missing $tool" >&2; exit 1; }
done
BERTH=$(realpath "${1:-target/release/berth}")
RUNS=${RUNS:-300}
OUT=contrib/layout/symbol-order.txt
USER_NAME=berth-sub
nm "$BERTH" 2>/dev/null | grep ' T main$' >/dev/null || {
  echo "record.sh: $BERTH has no symbols (the release profile must keep them: strip = false)" >&2
  exit 1
}
contrib/ci/rootless-user.sh

WORK=$(mktemp -d /var/tmp/berth-layout.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/bin" "$WORK/run" "$WORK/rootfs/bin" "$WORK/ctx"
install -m 0755 "$BERTH" "$WORK/bin/berth"
cp /bin/busybox "$WORK/rootfs/bin/"
for applet in $(busybox --list); do [ "$applet" = busybox ] || ln -s busybox "$WORK/rootfs/bin/$applet"; done
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
printf 'FROM busybox\nRUN echo built > /built\n' >"$WORK/ctx/Dockerfile"
chown -R "$USER_NAME" "$WORK"

# The workload, weighted as people use berth: mostly `run --rm`, then a detached container's
# life, listings, exec, a cached build. Each block is one shell loop as the user.
cat >"$WORK/workload.sh" <<SCRIPT
set -e
export HOME=$WORK XDG_RUNTIME_DIR=$WORK/run BERTH_ROOT=$WORK/store
B=$WORK/bin/berth
\$B import $WORK/busybox.tar busybox >/dev/null
\$B build -q -t built $WORK/ctx >/dev/null
i=0
while [ \$i -lt $RUNS ]; do
  \$B run --rm --network none busybox true
  \$B run --rm busybox true
  if [ \$((i % 4)) = 0 ]; then
    id=\$(\$B run -d busybox sleep 30)
    \$B exec \$id true
    \$B ps -a >/dev/null
    \$B images >/dev/null
    \$B stop -t 1 \$id >/dev/null
    \$B rm \$id >/dev/null
    \$B build -q -t built $WORK/ctx >/dev/null
  fi
  i=\$((i + 1))
done
\$B system reset -f >/dev/null
SCRIPT
chown "$USER_NAME" "$WORK/workload.sh"

perf record -q -a -F 40000 -e cpu-clock:u -o "$WORK/perf.data" -- \
  runuser -u "$USER_NAME" -- sh "$WORK/workload.sh"
# First appearance order: what runs first is placed first. Samples of other programs and of
# addresses without a symbol are dropped.
perf script -i "$WORK/perf.data" -F ip,sym,dso --no-demangle 2>/dev/null |
  awk -v dso="($WORK/bin/berth)" '$NF == dso && $(NF-1) != "[unknown]" { sub(/\+0x[0-9a-f]+$/, "", $(NF-1)); if (!seen[$(NF-1)]++) print $(NF-1) }' >"$OUT.new"
[ -s "$OUT.new" ] || { echo "record.sh: perf caught no function of berth" >&2; rm -f "$OUT.new"; exit 1; }
mv "$OUT.new" "$OUT"
echo "record.sh: $(wc -l <"$OUT") functions in $OUT; rebuild with cargo build --release"

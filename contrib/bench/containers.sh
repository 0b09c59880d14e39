#!/usr/bin/env bash
# Container benchmark: berth beside podman on this machine, both rootless as the same
# unprivileged user, each with a private store. Prints medians and ratios. Not a test.
# Needs root (to switch user), hyperfine, podman, busybox-static, GNU time.
#
#   contrib/bench/containers.sh [path/to/berth]      (default: target/release/berth)
#
# Goals (issue 3): run --rm --network none busybox true <= 0.2x podman and within 3x of the
# unshare floor; run -d + stop (exits on SIGTERM) <= 0.25x podman; ps -a with 100 containers
# <= 0.1x podman; peak RSS of run --rm <= 10 MB; a detached container's monitor <= 4 MB.
set -euo pipefail
cd "$(dirname "$0")/../.."
BERTH=$(realpath "${1:-target/release/berth}")
USER_NAME=${BENCH_USER:-berth-sub}
RUNS=${RUNS:-20}
# shellcheck source=contrib/bench/lib.sh
. contrib/bench/lib.sh

echo "== timings (median of $RUNS)"
bench "run --rm --network none busybox true" \
  "$B run --rm --network none busybox true" "$P run --rm --network none busybox true"
bench "run --rm (seccomp=unconfined)" \
  "$B run --rm --network none --security-opt seccomp=unconfined busybox true" \
  "$P run --rm --network none --security-opt seccomp=unconfined busybox true"
as_user hyperfine -N -w 3 -r "$RUNS" --export-json "$WORK/f.json" \
  "unshare --user --map-root-user --mount --pid --fork --mount-proc true" >/dev/null 2>&1
printf '%-40s %8.1f ms\n' "floor: unshare …" "$(median "$WORK/f.json")"

# The container exits as soon as SIGTERM arrives (`wait` returns on a trapped signal), so
# that stop measures the tool, not a polling loop in the workload.
WORKLOAD='trap "exit 0" TERM; while true; do sleep 1 & wait; done'
cat >"$WORK/cycle-b.sh" <<EOS
#!/bin/sh
id=\$($B run -d --network none busybox sh -c '$WORKLOAD') && $B stop \$id >/dev/null
EOS
cat >"$WORK/cycle-p.sh" <<EOS
#!/bin/sh
id=\$($P run -d --network none busybox sh -c '$WORKLOAD') && $P stop \$id >/dev/null
EOS
cat >"$WORK/prune-b.sh" <<EOS
#!/bin/sh
$B container prune -f >/dev/null 2>&1; exit 0
EOS
cat >"$WORK/prune-p.sh" <<EOS
#!/bin/sh
$P container prune -f >/dev/null 2>&1; exit 0
EOS
chmod +x "$WORK"/cycle-*.sh "$WORK"/prune-*.sh; chown "$USER_NAME" "$WORK"/cycle-*.sh "$WORK"/prune-*.sh
# Each run removes the last one's container first, untimed.
for tool in b p; do
  prune=$WORK/prune-$tool.sh
  as_user hyperfine -N -w 3 -r 10 --prepare "$prune" --export-json "$WORK/$tool.json" "$WORK/cycle-$tool.sh" >/dev/null 2>&1
done
b=$(median "$WORK/b.json"); p=$(median "$WORK/p.json")
printf '%-40s berth %8.1f ms   %s %8.1f ms   ratio %.3f\n' "run -d + stop (exits on SIGTERM)" "$b" podman "$p" "$(echo "$b/$p" | bc -l)"

echo "== creating 100 exited containers in each store"
for i in $(seq 1 100); do
  as_user $B create --network none busybox true >/dev/null
  as_user $P create --network none busybox true >/dev/null 2>&1
done
bench "ps -a (100 containers)" "$B ps -a" "$P ps -a"

echo "== memory"
as_user /usr/bin/time -f '%M' -o "$WORK/rss-b" $B run --rm --network none busybox true
as_user /usr/bin/time -f '%M' -o "$WORK/rss-p" $P run --rm --network none busybox true
printf 'peak RSS of run --rm                     berth %6d KB   podman %6d KB\n' "$(tail -1 "$WORK/rss-b")" "$(tail -1 "$WORK/rss-p")"
id=$(as_user $B run -d --network none busybox sleep 30)
sleep 0.5
monitor=$(pgrep -f "__monitor $id" | head -1)
printf 'detached monitor RSS                     berth %6d KB\n' "$(awk '/VmRSS/{print $2}' "/proc/$monitor/status")"

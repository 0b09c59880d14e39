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
[ "$(id -u)" = 0 ] || { echo "run as root (it switches to $USER_NAME)" >&2; exit 1; }
for tool in hyperfine podman /usr/bin/time busybox jq bc; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
contrib/ci/rootless-user.sh
# Podman's crun refuses hybrid cgroup hosts whose v2 hierarchy still has controllers (here
# hugetlb); bind them to v1 hierarchies as systemd would (what ../shared/lab/setup.sh does).
if [ "$(stat -f -c %T /sys/fs/cgroup)" = tmpfs ] && [ -r /sys/fs/cgroup/unified/cgroup.controllers ]; then
  for ctl in $(cat /sys/fs/cgroup/unified/cgroup.controllers); do
    mkdir -p "/sys/fs/cgroup/$ctl"
    mountpoint -q "/sys/fs/cgroup/$ctl" || mount -t cgroup -o "$ctl" cgroup "/sys/fs/cgroup/$ctl" || true
  done
fi

WORK=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
mkdir -p "$WORK/bin" "$WORK/run" "$WORK/rootfs/bin"
install -m 0755 "$BERTH" "$WORK/bin/berth"
cp /bin/busybox "$WORK/rootfs/bin/"
for applet in sh true sleep; do ln -s busybox "$WORK/rootfs/bin/$applet"; done
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
chown -R "$USER_NAME" "$WORK"
as_user() { runuser -u "$USER_NAME" -- env HOME="$WORK" XDG_RUNTIME_DIR="$WORK/run" "$@"; }
B="env BERTH_ROOT=$WORK/berth $WORK/bin/berth"
P="podman --root $WORK/podman --runroot $WORK/podrun --storage-driver overlay --cgroup-manager cgroupfs --events-backend file"
cleanup() {
  as_user $B rm -f $(as_user $B ps -aq) >/dev/null 2>&1 || true
  as_user $P rm -af >/dev/null 2>&1 || true
  as_user $P unshare rm -rf "$WORK/podman" >/dev/null 2>&1 || true
  as_user $B system reset -f >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

as_user $B import "$WORK/busybox.tar" busybox >/dev/null
as_user $P import "$WORK/busybox.tar" busybox >/dev/null 2>&1
# If crun still refuses this host's cgroups, measure podman with runc (apt-get install runc).
if ! as_user $P run --rm --network none busybox true >/dev/null 2>&1; then
  P="$P --runtime runc"
  echo "note: podman with crun cannot run containers here; measuring podman with runc"
  as_user $P run --rm --network none busybox true >/dev/null
fi

median() { jq -r '.results[0].median * 1000' "$1"; }
bench() { # name, berth command, podman command
  local name=$1 berth=$2 podman=$3
  as_user hyperfine -N -w 3 -r "$RUNS" --export-json "$WORK/b.json" "$berth" >/dev/null 2>&1
  as_user hyperfine -N -w 3 -r "$RUNS" --export-json "$WORK/p.json" "$podman" >/dev/null 2>&1
  local b p
  b=$(median "$WORK/b.json"); p=$(median "$WORK/p.json")
  printf '%-40s berth %8.1f ms   podman %8.1f ms   ratio %.3f\n' "$name" "$b" "$p" "$(echo "$b/$p" | bc -l)"
}

echo "== timings (median of $RUNS)"
bench "run --rm --network none busybox true" \
  "$B run --rm --network none busybox true" "$P run --rm --network none busybox true"
bench "run --rm (seccomp=unconfined)" \
  "$B run --rm --network none --security-opt seccomp=unconfined busybox true" \
  "$P run --rm --network none --security-opt seccomp=unconfined busybox true"
as_user hyperfine -N -w 3 -r "$RUNS" --export-json "$WORK/f.json" \
  "unshare --user --map-root-user --mount --pid --fork --mount-proc true" >/dev/null 2>&1
printf '%-40s %8.1f ms\n' "floor: unshare …" "$(median "$WORK/f.json")"

cat >"$WORK/cycle-b.sh" <<EOS
#!/bin/sh
id=\$($B run -d --network none busybox sh -c 'trap "exit 0" TERM; while true; do sleep 0.05; done') && $B stop \$id >/dev/null && $B rm \$id >/dev/null
EOS
cat >"$WORK/cycle-p.sh" <<EOS
#!/bin/sh
id=\$($P run -d --network none busybox sh -c 'trap "exit 0" TERM; while true; do sleep 0.05; done') && $P stop \$id >/dev/null && $P rm \$id >/dev/null
EOS
chmod +x "$WORK"/cycle-*.sh; chown "$USER_NAME" "$WORK"/cycle-*.sh
RUNS=10 bench "run -d + stop + rm (exits on SIGTERM)" "$WORK/cycle-b.sh" "$WORK/cycle-p.sh"

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

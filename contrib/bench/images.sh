#!/usr/bin/env bash
# Image-store benchmark: berth beside podman on this machine, both rootless as the same
# unprivileged user, each with a private store on the same disk. Prints medians and ratios.
# Not a test: figures depend on the machine. Needs root (to switch user), hyperfine, podman,
# busybox-static and GNU time.
#
#   contrib/bench/images.sh [path/to/berth]      (default: target/release/berth)
#
# Goals (issue 2): `images` with 100 images <= 0.1x podman; `load` of ~150 MB <= 0.5x podman
# with peak RSS <= 50 MB; `save` <= 0.5x podman.
set -euo pipefail
cd "$(dirname "$0")/../.."
BERTH=$(realpath "${1:-target/release/berth}")
USER_NAME=${BENCH_USER:-berth-sub}
RUNS=${RUNS:-15}
[ "$(id -u)" = 0 ] || { echo "run as root (it switches to $USER_NAME)" >&2; exit 1; }
for tool in hyperfine podman /usr/bin/time busybox; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install hyperfine podman time busybox-static)" >&2; exit 1; }
done
contrib/ci/rootless-user.sh

WORK=$(mktemp -d /var/tmp/berth-bench.XXXXXX)
cleanup() {
  set +e # a failing step here must not turn the benchmark's own status into a failure
  runuser -u "$USER_NAME" -- podman --root "$WORK/podman" --runroot "$WORK/podrun" unshare rm -rf "$WORK/podman" >/dev/null 2>&1
  runuser -u "$USER_NAME" -- "$WORK/bin/berth" --root "$WORK/berth" system reset -f >/dev/null 2>&1
  rm -rf "$WORK" 2>/dev/null || { sleep 1; rm -rf "$WORK"; }
}
trap cleanup EXIT
mkdir -p "$WORK/bin" "$WORK/run"
install -m 0755 "$BERTH" "$WORK/bin/berth"
chown -R "$USER_NAME" "$WORK"

as_user() { runuser -u "$USER_NAME" -- env HOME="$WORK" XDG_RUNTIME_DIR="$WORK/run" "$@"; }
# --root rather than `env BERTH_ROOT=…`: hyperfine would time env's own exec too.
B="$WORK/bin/berth --root $WORK/berth"
P="podman --root $WORK/podman --runroot $WORK/podrun --storage-driver overlay --cgroup-manager cgroupfs --events-backend file"

# Fixtures: a busybox rootfs tarball, and a ~150 MB docker-archive (3 layers of random data).
mkdir -p "$WORK/rootfs/bin"
cp /bin/busybox "$WORK/rootfs/bin/"
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
mkdir -p "$WORK/big/data"
for i in 1 2 3; do head -c 50M /dev/urandom >"$WORK/big/data/blob$i"; done
tar -C "$WORK/big" -cf "$WORK/big-rootfs.tar" .
chown -R "$USER_NAME" "$WORK"

echo "== creating 100 images in each store"
for i in $(seq 1 100); do
  as_user $B import "$WORK/busybox.tar" "bench/img$i:latest" >/dev/null
  as_user $P import "$WORK/busybox.tar" "bench/img$i:latest" >/dev/null 2>&1
done

echo "== building the ~150 MB docker-archive with podman"
as_user $P import "$WORK/big-rootfs.tar" big:1 >/dev/null 2>&1
as_user $P save -o "$WORK/big.tar" --format docker-archive localhost/big:1 >/dev/null 2>&1
ls -l "$WORK/big.tar"

median() { jq -r '.results[0].median * 1000' "$1"; }
bench() { # name, berth command, podman command [, berth prepare, podman prepare]
  local name=$1 berth=$2 podman=$3 bprep=${4:-true} pprep=${5:-true}
  # Fast commands without a prepare step run without a shell (-N): its start-up would swamp them.
  local shell_flag=()
  [ "$bprep" = true ] && [ "$pprep" = true ] && shell_flag=(-N)
  as_user hyperfine "${shell_flag[@]}" -w 1 -r "$RUNS" --prepare "$bprep" --export-json "$WORK/b.json" "$berth" >/dev/null 2>&1
  as_user hyperfine "${shell_flag[@]}" -w 1 -r "$RUNS" --prepare "$pprep" --export-json "$WORK/p.json" "$podman" >/dev/null 2>&1
  local b p
  b=$(median "$WORK/b.json"); p=$(median "$WORK/p.json")
  printf '%-28s berth %8.1f ms   podman %8.1f ms   ratio %.3f\n' "$name" "$b" "$p" "$(echo "$b/$p" | bc -l)"
}

echo "== timings (median of $RUNS)"
bench "images (100 images)" "$B images" "$P images"
RUNS=5 bench "load ~150MB docker-archive" "$B load -q -i $WORK/big.tar" "$P load -q -i $WORK/big.tar" \
  "$B rmi localhost/big:1 >/dev/null 2>&1 || true" "$P rmi localhost/big:1 >/dev/null 2>&1 || true"
as_user $B load -q -i "$WORK/big.tar"
RUNS=5 bench "save ~150MB" "$B save -o $WORK/out-b.tar localhost/big:1" "$P save -o $WORK/out-p.tar --format docker-archive localhost/big:1" \
  "rm -f $WORK/out-b.tar" "rm -f $WORK/out-p.tar"

echo "== peak RSS of load"
as_user $B rmi localhost/big:1 >/dev/null 2>&1 || true
as_user /usr/bin/time -f '%M' -o "$WORK/rss-b" $B load -q -i "$WORK/big.tar"
as_user $P rmi localhost/big:1 >/dev/null 2>&1 || true
as_user /usr/bin/time -f '%M' -o "$WORK/rss-p" $P load -q -i "$WORK/big.tar" >/dev/null 2>&1
printf 'load peak RSS               berth %6d KB   podman %6d KB\n' "$(tail -1 "$WORK/rss-b")" "$(tail -1 "$WORK/rss-p")"

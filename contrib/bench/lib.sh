# Shared set-up of the container benchmarks (sourced): a work dir owned by the benchmark
# user, berth and podman with private stores, a busybox image in both, `bench NAME BERTH PODMAN`
# printing medians and the ratio. Expects BERTH, USER_NAME and RUNS to be set.
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
for applet in $(busybox --list); do [ "$applet" = busybox ] || ln -s busybox "$WORK/rootfs/bin/$applet"; done
tar -C "$WORK/rootfs" -cf "$WORK/busybox.tar" .
chown -R "$USER_NAME" "$WORK"
as_user() { runuser -u "$USER_NAME" -- env HOME="$WORK" XDG_RUNTIME_DIR="$WORK/run" "$@"; }
B="env BERTH_ROOT=$WORK/berth $WORK/bin/berth"
P="podman --root $WORK/podman --runroot $WORK/podrun --storage-driver overlay --cgroup-manager cgroupfs --events-backend file"
cleanup() {
  set +e # a failing step here must not turn the benchmark's own status into a failure
  as_user $B rm -f $(as_user $B ps -aq) >/dev/null 2>&1 || true
  as_user $P rm -af >/dev/null 2>&1 || true
  as_user $P unshare rm -rf "$WORK/podman" >/dev/null 2>&1 || true
  as_user $B system reset -f >/dev/null 2>&1 || true
  # podman's fuse-overlayfs mounts may linger a moment after its last command.
  rm -rf "$WORK" 2>/dev/null || { sleep 1; rm -rf "$WORK"; } || echo "note: could not remove $WORK" >&2
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
  printf '%-40s berth %8.1f ms   %s %8.1f ms   ratio %.3f\n' "$name" "$b" "${PEER:-podman}" "$p" "$(echo "$b/$p" | bc -l)"
}


#!/usr/bin/env bash
# kube play benchmark: `berth kube play` beside `podman kube play`, both rootless as the same
# unprivileged user with private stores, on a two-container pod with one published port whose
# image is present. Prints medians and the ratio. Not a test.
# Needs root (to switch user), hyperfine, podman, jq, bc.
#
#   contrib/bench/kube.sh [path/to/berth]      (default: target/release/berth)
#
# Goal (issue 8): kube play <= 0.3x podman kube play.
set -euo pipefail
cd "$(dirname "$0")/../.."
BERTH=$(realpath "${1:-target/release/berth}")
USER_NAME=${BENCH_USER:-berth-sub}
RUNS=${RUNS:-10}
# shellcheck source=contrib/bench/lib.sh
. contrib/bench/lib.sh

# Two containers that stop at once on SIGTERM. podman names the imported image localhost/busybox.
manifest() { # image
  cat <<EOS
apiVersion: v1
kind: Pod
metadata:
  name: bench
spec:
  restartPolicy: Never
  containers:
  - name: web
    image: $1
    command: [/bin/sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.05; done"]
    ports:
    - {containerPort: 8080, hostPort: 18080}
  - name: worker
    image: $1
    command: [/bin/sh, -c, "trap 'exit 0' TERM; while true; do sleep 0.05; done"]
EOS
}
manifest busybox >"$WORK/pod-b.yaml"
manifest localhost/busybox:latest >"$WORK/pod-p.yaml"
for tool in b p; do
  if [ $tool = b ]; then c="$B kube play"; else c="$P kube play"; fi
  printf '#!/bin/sh\n%s %s >/dev/null\n' "$c" "$WORK/pod-$tool.yaml" >"$WORK/play-$tool.sh"
  printf '#!/bin/sh\n%s --down %s >/dev/null 2>&1\nexit 0\n' "$c" "$WORK/pod-$tool.yaml" >"$WORK/down-$tool.sh"
done
# podman 4.3's kube play --down may leave the pod (with runc and cgroupfs): remove it too.
printf '#!/bin/sh\n%s kube play --down %s >/dev/null 2>&1\n%s pod rm -f bench >/dev/null 2>&1\nexit 0\n' "$P" "$WORK/pod-p.yaml" "$P" >"$WORK/down-p.sh"
chmod +x "$WORK"/play-*.sh "$WORK"/down-*.sh
chown "$USER_NAME" "$WORK"/*.sh "$WORK"/*.yaml

# play is measured from nothing (prepared by --down).
# Both publish one port: one pod at a time. hyperfine's output is shown when a run fails.
as_user hyperfine -N -w 2 -r "$RUNS" --prepare "$WORK/down-b.sh" --export-json "$WORK/b.json" "$WORK/play-b.sh" >"$WORK/h.log" 2>&1 ||
  { tail -20 "$WORK/h.log"; as_user sh -x "$WORK/play-b.sh"; exit 1; }
as_user "$WORK/down-b.sh"
as_user hyperfine -N -w 2 -r "$RUNS" --prepare "$WORK/down-p.sh" --export-json "$WORK/p.json" "$WORK/play-p.sh" >"$WORK/h.log" 2>&1 ||
  { tail -20 "$WORK/h.log"; as_user sh -x "$WORK/play-p.sh"; exit 1; }
b=$(median "$WORK/b.json"); p=$(median "$WORK/p.json")
echo "== timings (median of $RUNS), two containers, images present"
printf '%-40s berth %8.1f ms   podman %8.1f ms   ratio %.3f\n' "kube play" "$b" "$p" "$(echo "$b/$p" | bc -l)"
as_user "$WORK/down-p.sh"

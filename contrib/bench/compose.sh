#!/usr/bin/env bash
# Compose benchmark: `berth compose` beside podman-compose (PyPI) driving podman, both rootless
# as the same unprivileged user with private stores, on a three-service project whose images
# are present. Prints medians and ratios. Not a test.
# Needs root (to switch user), hyperfine, podman, python3-venv (podman-compose is installed
# into a venv under the work dir from PyPI).
#
#   contrib/bench/compose.sh [path/to/berth]      (default: target/release/berth)
#
# Goals (issue 7): compose up -d <= 0.3x podman-compose; compose down <= 0.3x.
set -euo pipefail
cd "$(dirname "$0")/../.."
BERTH=$(realpath "${1:-target/release/berth}")
USER_NAME=${BENCH_USER:-berth-sub}
RUNS=${RUNS:-10}
PEER=podman-compose
# shellcheck source=contrib/bench/lib.sh
. contrib/bench/lib.sh

# Debian's python, not one of root's own (pyenv under /root): the user must run the venv.
/usr/bin/python3 -m venv "$WORK/venv" >/dev/null
"$WORK/venv/bin/pip" install -q podman-compose
chown -R "$USER_NAME" "$WORK/venv"
mkdir -p "$WORK/app"
# Three services that stop at once on SIGTERM, one published port. (No depends_on: podman-compose
# 1.x waits for a dependency with `podman wait --condition=running`, which never returns with
# podman 4.3 here.)
cat >"$WORK/app/compose.yaml" <<'EOS'
services:
  web:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.05; done"]
    ports: ["18080:8080"]
  worker:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.05; done"]
  cache:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.05; done"]
EOS
chown -R "$USER_NAME" "$WORK/app"
# podman-compose runs `podman` from PATH: a wrapper gives it our private store.
cat >"$WORK/bin/podman" <<EOS
#!/bin/sh
exec /usr/bin/$P "\$@"
EOS
chmod +x "$WORK/bin/podman"
PC="env PATH=$WORK/bin:/usr/bin:/bin $WORK/venv/bin/podman-compose -f $WORK/app/compose.yaml -p bench"
BC="$B compose -f $WORK/app/compose.yaml -p bench"
for tool in b p; do
  if [ $tool = b ]; then c=$BC; else c=$PC; fi
  cat >"$WORK/up-$tool.sh" <<EOS
#!/bin/sh
$c up -d >/dev/null
EOS
  cat >"$WORK/down-$tool.sh" <<EOS
#!/bin/sh
$c down >/dev/null 2>&1
exit 0
EOS
done
chmod +x "$WORK"/up-*.sh "$WORK"/down-*.sh; chown "$USER_NAME" "$WORK"/*.sh

# up -d is measured from a project that is down (prepared by a down), down from one that is up.
updown() { # name, berth script, peer script, prepare berth, prepare peer
  as_user hyperfine -N -w 2 -r "$RUNS" --prepare "$4" --export-json "$WORK/b.json" "$2" >"$WORK/h.log" 2>&1 ||
    { tail -20 "$WORK/h.log"; sh -x "$2"; exit 1; }
  as_user "$WORK/down-b.sh" # both publish the same port: one project at a time
  as_user hyperfine -N -w 2 -r "$RUNS" --prepare "$5" --export-json "$WORK/p.json" "$3" >"$WORK/h.log" 2>&1 ||
    { tail -20 "$WORK/h.log"; as_user sh -x "$3"; exit 1; }
  as_user "$WORK/down-p.sh"
  local b p
  b=$(median "$WORK/b.json"); p=$(median "$WORK/p.json")
  printf '%-40s berth %8.1f ms   %s %8.1f ms   ratio %.3f\n' "$1" "$b" "$PEER" "$p" "$(echo "$b/$p" | bc -l)"
}
echo "== timings (median of $RUNS), three services, images present"
updown "compose up -d" "$WORK/up-b.sh" "$WORK/up-p.sh" "$WORK/down-b.sh" "$WORK/down-p.sh"
updown "compose down" "$WORK/down-b.sh" "$WORK/down-p.sh" "$WORK/up-b.sh" "$WORK/up-p.sh"

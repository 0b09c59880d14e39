#!/usr/bin/env bash
# Registry benchmark: berth beside podman pulling and pushing the python fixture (Debian's
# python3 on minbase, gzip-compressed in the registry as python:3.11-slim is) through a private
# docker-registry on loopback, both rootless as the same user with private stores. Prints
# medians, ratios, peak RSS and the store size after a pull. Not a test.
# Needs root, hyperfine, podman, skopeo, docker-registry, and the fixture that contrib/test.sh
# builds (/var/cache/berth-test/python.tar).
#
#   contrib/bench/registry.sh [path/to/berth]      (default: target/release/berth)
#
# Goals (issue 6): cold pull <= 0.3x podman with peak RSS <= 60 MB; push to an empty registry
# <= 0.5x podman; the store after a pull within 1.2x of the uncompressed image plus the
# compressed blobs.
set -euo pipefail
cd "$(dirname "$0")/../.."
BERTH=$(realpath "${1:-target/release/berth}")
USER_NAME=${BENCH_USER:-berth-sub}
RUNS=${RUNS:-5}
FIXTURE=/var/cache/berth-test/python.tar
[ -f "$FIXTURE" ] || { echo "missing $FIXTURE: run contrib/test.sh (or contrib/ci/minbase.sh) first" >&2; exit 1; }
for tool in skopeo docker-registry; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 1; }
done
# shellcheck source=contrib/bench/lib.sh
. contrib/bench/lib.sh

# The registry, as the benchmark user, with no blob-descriptor cache (so emptying its storage
# between pushes really empties it).
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
REG=127.0.0.1:$PORT
mkdir -p "$WORK/registry"
cat >"$WORK/registry/config.yml" <<EOS
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $WORK/registry/data
  delete:
    enabled: true
http:
  addr: $REG
EOS
chown -R "$USER_NAME" "$WORK/registry"
as_user docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
for _ in $(seq 50); do curl -fsS -o /dev/null "http://$REG/v2/" 2>/dev/null && break; sleep 0.1; done

# The image: the fixture as an OCI archive, copied gzip-compressed into the registry.
as_user $B import --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
  --change 'CMD ["python3"]' "$FIXTURE" python:3.11-slim >/dev/null
as_user $B save --format oci-archive -o "$WORK/python.oci.tar" python:3.11-slim
# As root: a rootless skopeo cannot unpack an OCI archive (it restores the files' owners).
skopeo copy -q --dest-compress --dest-tls-verify=false \
  "oci-archive:$WORK/python.oci.tar" "docker://$REG/library/python:3.11-slim"
IMAGE=$REG/library/python:3.11-slim
compressed=$(skopeo inspect --raw --tls-verify=false "docker://$IMAGE" | jq '[.layers[].size] | add')

cat >"$WORK/reset-b.sh" <<EOS
#!/bin/sh
$B system reset -f >/dev/null 2>&1; exit 0
EOS
cat >"$WORK/reset-p.sh" <<EOS
#!/bin/sh
$P rmi -af >/dev/null 2>&1; exit 0
EOS
cat >"$WORK/pull-b.sh" <<EOS
#!/bin/sh
$B pull -q $IMAGE >/dev/null
EOS
cat >"$WORK/pull-p.sh" <<EOS
#!/bin/sh
$P pull -q --tls-verify=false $IMAGE >/dev/null
EOS
# Cold pulls into an empty store: each run gets new store directories and the last run's are
# moved aside, not deleted. This machine's root filesystem is ext4 without a journal, where
# creating files within ~30 s of deleting many scans the recently deleted inodes
# (`recently_deleted` in the kernel's profile): a pull right after a reset measures that.
mkdir -p "$WORK/old"; chown "$USER_NAME" "$WORK/old"
cat >"$WORK/fresh-b.sh" <<EOS
#!/bin/sh
n=\$(date +%s%N)
if [ -e $WORK/cold-b ]; then mv $WORK/cold-b $WORK/old/b-\$n || exit 1; fi
EOS
cat >"$WORK/fresh-p.sh" <<EOS
#!/bin/sh
n=\$(date +%s%N)
if [ -e $WORK/cold-p ]; then mv $WORK/cold-p $WORK/old/p-\$n || exit 1; fi
if [ -e $WORK/cold-prun ]; then mv $WORK/cold-prun $WORK/old/prun-\$n || exit 1; fi
EOS
cat >"$WORK/cold-b.sh" <<EOS
#!/bin/sh
BERTH_ROOT=$WORK/cold-b $WORK/bin/berth pull -q $IMAGE >/dev/null
EOS
cat >"$WORK/cold-p.sh" <<EOS
#!/bin/sh
podman --root $WORK/cold-p --runroot $WORK/cold-prun --storage-driver overlay --cgroup-manager cgroupfs \\
  --events-backend file pull -q --tls-verify=false $IMAGE >/dev/null
EOS
chmod +x "$WORK"/*.sh; chown "$USER_NAME" "$WORK"/*.sh
pair() { # name, berth command, peer command, berth prepare, peer prepare
  as_user hyperfine -N -w 1 -r "$RUNS" --prepare "$4" --export-json "$WORK/b.json" "$2" >"$WORK/h.log" 2>&1 ||
    { tail -20 "$WORK/h.log"; as_user sh -x "$2"; exit 1; }
  as_user hyperfine -N -w 1 -r "$RUNS" --prepare "$5" --export-json "$WORK/p.json" "$3" >"$WORK/h.log" 2>&1 ||
    { tail -20 "$WORK/h.log"; as_user sh -x "$3"; exit 1; }
  local b p
  b=$(median "$WORK/b.json"); p=$(median "$WORK/p.json")
  printf '%-40s berth %8.1f ms   podman %8.1f ms   ratio %.3f\n' "$1" "$b" "$p" "$(echo "$b/$p" | bc -l)"
}
echo "== timings (median of $RUNS), python:3.11-slim from the fixture, $((compressed / 1000000)) MB compressed"
pair "cold pull (into an empty store)" "$WORK/cold-b.sh" "$WORK/cold-p.sh" "$WORK/fresh-b.sh" "$WORK/fresh-p.sh"
pair "cold pull (right after reset / rmi -a)" "$WORK/pull-b.sh" "$WORK/pull-p.sh" "$WORK/reset-b.sh" "$WORK/reset-p.sh"
as_user $P unshare rm -rf "$WORK/old" >/dev/null 2>&1 || true

echo "== memory and disk"
as_user "$WORK/reset-b.sh"; as_user "$WORK/reset-p.sh"
as_user /usr/bin/time -f '%M' -o "$WORK/rss-b" $B pull -q "$IMAGE" >/dev/null
as_user /usr/bin/time -f '%M' -o "$WORK/rss-p" $P pull -q --tls-verify=false "$IMAGE" >/dev/null
printf 'peak RSS of a cold pull                  berth %6d KB   podman %6d KB\n' "$(tail -1 "$WORK/rss-b")" "$(tail -1 "$WORK/rss-p")"
store=$(du -sb "$WORK/berth" | cut -f1)
uncompressed=$(as_user $B image inspect --format '{{.Size}}' "$IMAGE")
printf 'berth store after the pull               %d MB (image %d MB uncompressed + %d MB compressed blobs: %.2fx)\n' \
  "$((store / 1000000))" "$((uncompressed / 1000000))" "$((compressed / 1000000))" "$(echo "$store/($uncompressed+$compressed)" | bc -l)"

# Push to an empty registry: its storage is emptied before each run.
cat >"$WORK/empty.sh" <<EOS
#!/bin/sh
rm -rf $WORK/registry/data/docker/registry/v2/repositories/bench; exit 0
EOS
cat >"$WORK/empty-all.sh" <<EOS
#!/bin/sh
rm -rf $WORK/registry/data/docker; exit 0
EOS
as_user $B tag "$IMAGE" "$REG/bench/python:1"
as_user $P tag "$IMAGE" "$REG/bench/python:1"
cat >"$WORK/push-b.sh" <<EOS
#!/bin/sh
$B push -q $REG/bench/python:1 >/dev/null
EOS
cat >"$WORK/push-p.sh" <<EOS
#!/bin/sh
$P push -q --tls-verify=false $REG/bench/python:1 >/dev/null
EOS
chmod +x "$WORK"/*.sh; chown "$USER_NAME" "$WORK"/*.sh
echo "== push to an empty registry"
pair "push python:3.11-slim" "$WORK/push-b.sh" "$WORK/push-p.sh" "$WORK/empty-all.sh" "$WORK/empty-all.sh"
pkill -u "$USER_NAME" -f "docker-registry serve $WORK" || true

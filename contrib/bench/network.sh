#!/usr/bin/env bash
# Network benchmark: berth (pasta) beside podman (its default rootless network) on this
# machine, rootless as the same user. Prints medians, ratios and the throughput. Not a test.
#
#   contrib/bench/network.sh [path/to/berth]      (default: target/release/berth)
#
# Goals (issue 4): run --rm -p 127.0.0.1:8080:80 busybox true <= 0.25x podman; a 1 GB
# download through a published port >= 1.0x podman's throughput; run -d -p to the first HTTP
# answer of a busybox httpd <= 0.3x podman.
set -euo pipefail
cd "$(dirname "$0")/../.."
BERTH=$(realpath "${1:-target/release/berth}")
USER_NAME=${BENCH_USER:-berth-sub}
RUNS=${RUNS:-20}
command -v curl >/dev/null || { echo "missing curl" >&2; exit 1; }
# shellcheck source=contrib/bench/lib.sh
. contrib/bench/lib.sh

mkdir -p "$WORK/www"
echo hello >"$WORK/www/index.html"
truncate -s 1G "$WORK/www/big"
chown -R "$USER_NAME" "$WORK/www"
SERVE="-v $WORK/www:/www:ro busybox httpd -f -p 80 -h /www"

echo "== timings (median of $RUNS)"
bench "run --rm -p 127.0.0.1:18080:80 true" \
  "$B run --rm -p 127.0.0.1:18080:80 busybox true" "$P run --rm -p 127.0.0.1:18080:80 busybox true"

# From run -d -p to the first answer; the container is removed outside the timing.
for tool in b p; do
  if [ $tool = b ]; then T=$B; else T=$P; fi
  cat >"$WORK/first-$tool.sh" <<EOS
#!/bin/sh
$T run -d --name first -p 127.0.0.1:18081:80 $SERVE >/dev/null
until curl -sf -o /dev/null http://127.0.0.1:18081/; do :; done
EOS
  chmod +x "$WORK/first-$tool.sh"
done
for tool in b p; do
  if [ $tool = b ]; then T=$B; else T=$P; fi
  printf '#!/bin/sh\n%s rm -f first >/dev/null 2>&1; exit 0\n' "$T" >"$WORK/clean-$tool.sh"
  chmod +x "$WORK/clean-$tool.sh"
done
chown "$USER_NAME" "$WORK"/first-*.sh "$WORK"/clean-*.sh
# --prepare runs before every run: each starts with no container named `first`.
as_user hyperfine -N -w 2 -r 10 --prepare "$WORK/clean-b.sh" --export-json "$WORK/b.json" "$WORK/first-b.sh" >/dev/null 2>&1
as_user hyperfine -N -w 2 -r 10 --prepare "$WORK/clean-p.sh" --export-json "$WORK/p.json" "$WORK/first-p.sh" >/dev/null 2>&1
as_user $B rm -f first >/dev/null; as_user $P rm -f first >/dev/null 2>&1
b=$(median "$WORK/b.json"); p=$(median "$WORK/p.json")
printf '%-40s berth %8.1f ms   podman %8.1f ms   ratio %.3f\n' "run -d -p to first HTTP answer" "$b" "$p" "$(echo "$b/$p" | bc -l)"

echo "== throughput: 1 GB through a published port (median of 7, the tools taking turns)"
# Both servers run at once and the downloads alternate, so that the VM's drift from minute
# to minute falls on both tools alike; the first download of each is a warm-up.
as_user $B run -d --name big -p 127.0.0.1:18082:80 $SERVE >/dev/null
as_user $P run -d --name big -p 127.0.0.1:18083:80 $SERVE >/dev/null 2>&1
for port in 18082 18083; do
  until curl -sf -o /dev/null "http://127.0.0.1:$port/"; do sleep 0.05; done
  curl -s -o /dev/null "http://127.0.0.1:$port/big"
done
: >"$WORK/speed-b"; : >"$WORK/speed-p"
for _ in 1 2 3 4 5 6 7; do
  curl -s -o /dev/null -w '%{speed_download}\n' http://127.0.0.1:18082/big >>"$WORK/speed-b"
  curl -s -o /dev/null -w '%{speed_download}\n' http://127.0.0.1:18083/big >>"$WORK/speed-p"
done
as_user $B rm -f big >/dev/null; as_user $P rm -f -t 0 big >/dev/null 2>&1
middle() { sort -g "$1" | sed -n 4p; }
tb=$(middle "$WORK/speed-b"); tp=$(middle "$WORK/speed-p")
printf '%-40s berth %6.2f Gbit/s   podman %6.2f Gbit/s   ratio %.2f\n' "1 GB download" \
  "$(echo "$tb*8/1000000000" | bc -l)" "$(echo "$tp*8/1000000000" | bc -l)" "$(echo "$tb/$tp" | bc -l)"

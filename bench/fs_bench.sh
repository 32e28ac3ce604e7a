#!/bin/bash
# fs benchmark (issue 3): `find` over a tree of 6,000 entries and a `tar` extract of it, inside
# a busybox rootfs: native (the same busybox on the host path), `lx exec` with fs.root, and
# `proot -R`, in one run; medians of RUNS runs, printed as ratios.
# usage: bench/fs_bench.sh [BUILD_DIR] [RUNS]     (default build, 7)
set -euo pipefail
build=${1:-build}
runs=${2:-7}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
lx=$(cd "$build" && pwd)/bin/lx
bench_workdir lxhost-fs-bench
root=$work/root
busybox_rootfs "$root"
# 60 directories x 100 files = 6,060 entries.
for d in $(seq 1 60); do
  mkdir -p "$root/data/d$d"
  for f in $(seq 1 100); do : >"$root/data/d$d/f$f"; done
done
(cd "$root" && bin/busybox tar cf tree.tar data)

bb=$root/bin/busybox

echo "lxhost fs benchmark: busybox rootfs, 6,060 entries; median of $runs runs (ms)"
printf '%-22s %10s %10s %10s %12s %12s\n' task native "lx exec" proot "lx/native" "proot/lx"
row() {
  local name=$1 native=$2 lxt=$3 pr=$4
  local r1 r2
  r1=$(ratio "$lxt" "$native")
  r2=$([ "$pr" = "-" ] && echo "-" || ratio "$pr" "$lxt")
  printf '%-22s %10s %10s %10s %12s %12s\n' "$name" "$native" "$lxt" "$pr" "$r1" "$r2"
}

n=$(median_ms "$bb" find "$root/data")
l=$(median_ms "$lx" exec --set "fs.root=$root" -- /bin/find /data)
p=$(have_proot && median_ms proot -R "$root" /bin/find /data || echo -)
row "find /data" "$n" "$l" "$p"

n=$(median_ms "$bb" sh -c "rm -rf $root/tmp/x && mkdir $root/tmp/x && cd $root/tmp/x && $bb tar xf $root/tree.tar")
l=$(median_ms "$lx" exec --set "fs.root=$root" --set fs.default_mounts=false -- /bin/sh -c \
  "rm -rf /tmp/x && mkdir /tmp/x && cd /tmp/x && tar xf /tree.tar")
p=$(have_proot && median_ms proot -R "$root" /bin/sh -c \
  "rm -rf /root/x && mkdir /root/x && cd /root/x && tar xf /tree.tar" || echo -)
row "tar xf (6,060 entries)" "$n" "$l" "$p"

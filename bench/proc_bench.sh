#!/bin/bash
# proc benchmark (issue 4): a 200-iteration fork/exec shell loop in a busybox rootfs: native
# (the same busybox on the host path), `lx exec` with fs.root, and `proot -R`, in one run;
# medians of RUNS runs, printed as ratios.
# usage: bench/proc_bench.sh [BUILD_DIR] [RUNS]     (default build, 7)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-7}
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/lxhost-proc-bench-XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/root
"$here/tests/fixtures/make_rootfs.sh" busybox "$root"
loop='i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done'
median_ms() {
  local times=()
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]/1000}'
}
# Natively the loop runs the rootfs's busybox through its host path.
native=$(median_ms "$root/bin/busybox" sh -c "${loop//\/bin\/true/$root/bin/true}")
lx=$(median_ms "$build/bin/lx" exec --set "fs.root=$root" -- /bin/sh -c "$loop")
pr=-
command -v proot >/dev/null && pr=$(median_ms proot -R "$root" /bin/sh -c "$loop")
echo "lxhost proc benchmark: 200-iteration fork/exec loop in a busybox rootfs; median of $runs runs (ms)"
printf '%-10s %10s %10s\n' runner ms "x native"
printf '%-10s %10s %10s\n' native "$native" 1.00
printf '%-10s %10s %10s\n' "lx exec" "$lx" "$(awk -v a="$lx" -v b="$native" 'BEGIN {printf "%.2f", a/b}')"
[ "$pr" = "-" ] || printf '%-10s %10s %10s\n' "proot -R" "$pr" "$(awk -v a="$pr" -v b="$native" 'BEGIN {printf "%.2f", a/b}')"

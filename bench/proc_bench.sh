#!/bin/bash
# proc benchmark (issue 4): a 200-iteration fork/exec shell loop in a busybox rootfs: native
# (the same busybox on the host path), `lx exec` with fs.root, and `proot -R`, in one run;
# medians of RUNS runs, printed as ratios.
# usage: bench/proc_bench.sh [BUILD_DIR] [RUNS]     (default build, 7)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-7}
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
bench_workdir lxhost-proc-bench
root=$work/root
busybox_rootfs "$root"
loop='i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done'
# Natively the loop runs the rootfs's busybox through its host path.
native=$(median_ms "$root/bin/busybox" sh -c "${loop//\/bin\/true/$root/bin/true}")
lx=$(median_ms "$build/bin/lx" exec --set "fs.root=$root" -- /bin/sh -c "$loop")
pr=-
have_proot && pr=$(median_ms proot -R "$root" /bin/sh -c "$loop")
echo "lxhost proc benchmark: 200-iteration fork/exec loop in a busybox rootfs; median of $runs runs (ms)"
printf '%-10s %10s %10s\n' runner ms "x native"
printf '%-10s %10s %10s\n' native "$native" 1.00
printf '%-10s %10s %10s\n' "lx exec" "$lx" "$(ratio "$lx" "$native")"
[ "$pr" = "-" ] || printf '%-10s %10s %10s\n' "proot -R" "$pr" "$(ratio "$pr" "$native")"

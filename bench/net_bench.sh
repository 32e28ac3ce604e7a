#!/bin/bash
# net benchmark (issue 5): a loopback TCP echo of many small messages, native vs `lx exec` with
# the default net config (nothing on the data path is intercepted); medians of RUNS runs.
# usage: bench/net_bench.sh [BUILD_DIR] [RUNS] [MESSAGES]     (default build, 7, 20000)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-7}
msgs=${3:-20000}
guest=$build/tests/guest/bench_echo
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
native=$(for _ in $(seq "$runs"); do "$guest" "$msgs"; done | median)
lx=$(for _ in $(seq "$runs"); do "$build/bin/lx" exec -- "$guest" "$msgs"; done | median)
loop=$(for _ in $(seq "$runs"); do "$build/bin/lx" exec --set net.bind=loopback -- "$guest" "$msgs"; done | median)
echo "lxhost net benchmark: loopback TCP echo, $msgs messages of 32 bytes; median of $runs runs (ms)"
printf '%-34s %10s %10s\n' runner ms "x native"
printf '%-34s %10s %10s\n' native "$native" 1.00
printf '%-34s %10s %10s\n' "lx exec (default net config)" "$lx" "$(ratio "$lx" "$native")"
printf '%-34s %10s %10s\n' "lx exec (net.bind = loopback)" "$loop" "$(ratio "$loop" "$native")"

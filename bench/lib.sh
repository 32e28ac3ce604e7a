# shellcheck shell=bash
# Sourced by the benchmark scripts: the one median timer of the shell benchmarks (route_bench.cpp
# has the C++ one), ratios, a private work directory removed on exit, and a busybox rootfs.
# The timers need $runs set.

bench_src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)  # the source tree

# median: the median of the numbers on stdin, one a line (the lower one of an even count).
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# median_us CMD...: runs CMD $runs times (stdin /dev/null, output discarded), prints the median
# wall time in microseconds.
median_us() {
  local t0 t1
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N)
    "$@" </dev/null >/dev/null 2>&1
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000))
  done | median
}

# median_ms CMD...: median_us in milliseconds, with $ms_decimals (2) decimals.
median_ms() { awk -v us="$(median_us "$@")" -v d="${ms_decimals:-2}" 'BEGIN {printf "%." d "f", us/1000}'; }

# ratio A B [DECIMALS]: A/B with DECIMALS (2) decimals.
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {printf "%." d "f", a/b}'; }

# have_proot: whether proot is installed (the benchmarks compare with it when it is).
have_proot() { command -v proot >/dev/null; }

# bench_workdir PREFIX: a private directory $work in /tmp, removed on exit after
# bench_before_exit (when the script defines it) has run.
bench_workdir() {
  work=$(mktemp -d "/tmp/$1-XXXXXX")
  trap bench_exit EXIT
}
bench_exit() {
  if declare -F bench_before_exit >/dev/null; then bench_before_exit; fi
  rm -rf "$work"
}

# busybox_rootfs DIR: a busybox rootfs in DIR (tests/fixtures/make_rootfs.sh).
busybox_rootfs() { "$bench_src/tests/fixtures/make_rootfs.sh" busybox "$1"; }

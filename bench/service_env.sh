# shellcheck shell=bash
# Sourced by the service benchmarks: a private lxhostd (its own runtime and data directories,
# shut down and removed on exit) over bench/lib.sh. Needs $lx and $runs set.

# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_workdir lxbench
export XDG_RUNTIME_DIR=$work/run XDG_DATA_HOME=$work/data
mkdir -p "$XDG_RUNTIME_DIR"
holder=
bench_before_exit() {
  "$lx" shutdown >/dev/null 2>&1 || true
  [ -n "$holder" ] && kill "$holder" 2>/dev/null || true
}

# keep_warm [-d DISTRO]: a long client keeps the instance alive between the timed launches.
keep_warm() {
  "$lx" run "$@" -- /bin/sleep 100000 </dev/null >/dev/null 2>&1 &
  holder=$!
  for _ in $(seq 50); do "$lx" status 2>/dev/null | grep -q "sleep 100000" && return; sleep 0.1; done
}

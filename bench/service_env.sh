# Sourced by the service benchmarks: a private lxhostd (its own runtime and data directories,
# shut down and removed on exit) and the median timer. Needs $lx and $runs set.

work=$(mktemp -d /tmp/lxbench-XXXXXX)
export XDG_RUNTIME_DIR=$work/run XDG_DATA_HOME=$work/data
mkdir -p "$XDG_RUNTIME_DIR"
holder=
cleanup() {
  "$lx" shutdown >/dev/null 2>&1 || true
  [ -n "$holder" ] && kill "$holder" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# keep_warm [-d DISTRO]: a long client keeps the instance alive between the timed launches.
keep_warm() {
  "$lx" run "$@" -- /bin/sleep 100000 </dev/null >/dev/null 2>&1 &
  holder=$!
  for _ in $(seq 50); do "$lx" status 2>/dev/null | grep -q "sleep 100000" && return; sleep 0.1; done
}

# median_us CMD...: runs CMD $runs times (stdin /dev/null, output discarded), prints the median
# wall time in microseconds.
median_us() {
  local times=()
  for _ in $(seq "$runs"); do
    local t0 t1
    t0=$(date +%s%N)
    "$@" </dev/null >/dev/null 2>&1
    t1=$(date +%s%N)
    times+=($(( (t1 - t0) / 1000 )))
  done
  printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

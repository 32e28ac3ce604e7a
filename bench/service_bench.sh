#!/bin/bash
# Service benchmark (issue 6): `lx run -- /bin/true` through a warm lxhostd and a warm instance
# (an instance kept alive by a second client), against native /bin/true and `lx exec`, medians
# of RUNS runs; then CLIENTS concurrent `lx run` clients, each exiting with its own status,
# counting the statuses that came back right.
# usage: bench/service_bench.sh [BUILD_DIR] [RUNS] [CLIENTS]     (default build, 31, 100)
set -euo pipefail
build=$(cd "${1:-build}" && pwd)
runs=${2:-31}
clients=${3:-100}
lx=$build/bin/lx
# shellcheck source=bench/service_env.sh
. "$(dirname "$0")/service_env.sh"

# Warm: the daemon runs, and a long client keeps the host instance alive between launches.
keep_warm
native=$(median_us /bin/true)
exec_us=$(median_us "$lx" exec -- /bin/true)
run_us=$(median_us "$lx" run -- /bin/true)
echo "lxhost service benchmark: /bin/true, median of $runs runs (warm daemon and instance)"
ms() { awk -v a="$1" -v b="${2:-0}" 'BEGIN {printf "%.2f", (a-b)/1000}'; }
printf '%-22s %10s %14s\n' runner "ms" "ms over native"
printf '%-22s %10s %14s\n' native "$(ms "$native")" -
printf '%-22s %10s %14s\n' "lx exec" "$(ms "$exec_us")" "$(ms "$exec_us" "$native")"
printf '%-22s %10s %14s\n' "lx run (warm)" "$(ms "$run_us")" "$(ms "$run_us" "$native")"

# Memory: resident size of the daemon and of the instance (plugins loaded, one launch running),
# then of the instance with CLIENTS launches of `sleep` running at once.
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
daemon_pid=$("$lx" service status | awk '/pid/ {gsub(/[()]/, ""); print $NF; exit}')
instance_pid=$("$lx" status | awk '/instance pid/ {for (i = 1; i <= NF; i++) if ($i == "pid") {gsub(/,/, "", $(i+1)); print $(i+1); exit}}')
echo "memory: lxhostd $(rss_kib "$daemon_pid") KiB, instance with 1 launch $(rss_kib "$instance_pid") KiB"
sleepers=()
for _ in $(seq "$clients"); do
  "$lx" run -- /bin/sleep 30 </dev/null >/dev/null 2>&1 &
  sleepers+=($!)
done
for _ in $(seq 100); do
  [ "$("$lx" status | grep -c '/bin/sleep 30')" -ge "$clients" ] && break
  sleep 0.1
done
echo "memory: instance with $((clients + 1)) launches $(rss_kib "$instance_pid") KiB ($(ls /proc/"$instance_pid"/task | wc -l) threads)"
kill "${sleepers[@]}" 2>/dev/null || true
wait "${sleepers[@]}" 2>/dev/null || true

# Concurrency: CLIENTS clients at once, client i exits with i % 120.
t0=$(date +%s%N)
pids=()
for i in $(seq 0 $((clients - 1))); do
  "$lx" run -- /bin/sh -c "exit $((i % 120))" </dev/null >/dev/null 2>&1 &
  pids+=($!)
done
right=0
for i in $(seq 0 $((clients - 1))); do
  st=0
  wait "${pids[$i]}" || st=$?
  [ "$st" -eq $((i % 120)) ] && right=$((right + 1))
done
t1=$(date +%s%N)
echo "$clients concurrent lx run clients: $right of $clients exit statuses right, $(( (t1 - t0) / 1000000 )) ms in all"
[ "$right" -eq "$clients" ]

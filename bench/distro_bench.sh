#!/bin/bash
# Distro benchmark: a real distro rootfs (e.g. made by `debootstrap --variant=buildd bookworm
# DIR`) imported into a private lxhost store, then `find /usr` and `dpkg -l` (fork/exec + many
# small reads) natively on the host path, through `lx run` (warm instance), and under
# `proot -R`; medians of RUNS runs, printed as ratios.
# usage: bench/distro_bench.sh ROOTFS_DIR [BUILD_DIR] [RUNS]     (default build, 5)
set -euo pipefail
src=${1:?usage: bench/distro_bench.sh ROOTFS_DIR [BUILD_DIR] [RUNS]}
build=$(cd "${2:-build}" && pwd)
runs=${3:-5}
lx=$build/bin/lx
# shellcheck source=bench/service_env.sh
. "$(dirname "$0")/service_env.sh"
"$lx" import bench "$src" >/dev/null
root=$work/data/lxhost/distros/bench/rootfs
keep_warm -d bench
# shellcheck disable=SC2034  # read by median_ms (bench/lib.sh)
ms_decimals=1
entries=$(find "$root/usr" | wc -l)
echo "lxhost distro benchmark: $(cat "$root/etc/debian_version" 2>/dev/null || echo "?") rootfs, /usr has $entries entries; median of $runs runs (ms)"
printf '%-12s %10s %10s %10s %11s %11s\n' task native "lx run" proot "lx/native" "proot/lx"
for task in find dpkg; do
  if [ $task = find ]; then
    n=$(median_ms find "$root/usr")
    l=$(median_ms "$lx" run -d bench -- find /usr)
    p=-
    have_proot && p=$(median_ms proot -R "$root" find /usr)
  else
    n=$(median_ms chroot "$root" dpkg -l 2>/dev/null || echo -)
    [ "$(id -u)" = 0 ] || n=-
    l=$(median_ms "$lx" run -d bench -- dpkg -l)
    p=-
    have_proot && p=$(median_ms proot -R "$root" dpkg -l)
  fi
  printf '%-12s %10s %10s %10s %11s %11s\n' "$task" "$n" "$l" "$p" \
    "$([ "$n" = - ] && echo - || ratio "$l" "$n" 1)" "$([ "$p" = - ] && echo - || ratio "$p" "$l" 1)"
done

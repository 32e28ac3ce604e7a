#!/bin/bash
# Backend benchmark (issue 11): native / lx kernel backend / lx emulated backend / proot, in one
# run, medians of RUNS runs with ratios against native:
#   find     GNU `find /usr` in a Debian rootfs
#   find x10 the same ten times in one launch (the walk without lx exec's start)
#   fork     a 200-iteration fork/exec loop (/bin/true from a sh loop) in a busybox rootfs
#   tar -x   extraction of a tarball of the Debian rootfs's /usr/share (a few thousand files)
#            into a fresh directory under the rootfs's /tmp
#   dpkg -l  in the Debian rootfs
#   lx run   warm `lx run -- /bin/true` through a private lxhostd (a second client keeps the
#            instance alive), busybox rootfs, per backend
# lx columns: `lx exec --set instance.backend=kernel|emulated --set fs.root=ROOT`; proot: `-r ROOT`.
# Native for find, tar -x and dpkg -l runs the same host programs on the same files through the
# host path (`find ROOT/usr`, `dpkg --admindir=ROOT/var/lib/dpkg -l`), no chroot; native for
# the fork loop and lx run runs the rootfs's own static busybox through its host path.
# The Debian rootfs is never downloaded here; make it once (as root):
#   debootstrap --variant=minbase bookworm /work/bench-cache/debian
# A backend that cannot start prints "unavailable (<error>)" in its column.
# usage: bench/backend_bench.sh [--build DIR] [--runs N | runs=N] [--debian DIR]
#        (defaults: build, 5, /work/bench-cache/debian)
set -euo pipefail
build=build runs=5 debian=/work/bench-cache/debian
usage() { echo "usage: bench/backend_bench.sh [--build DIR] [--runs N | runs=N] [--debian DIR]" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=${2:?}; shift ;;
    --runs) runs=${2:?}; shift ;;
    --runs=* | runs=*) runs=${1#*=} ;;
    --debian) debian=${2:?}; shift ;;
    *) usage ;;
  esac
  shift
done
[[ $runs =~ ^[1-9][0-9]*$ ]] || usage
lx=$(cd "$build" && pwd)/bin/lx
[ -x "$lx" ] || { echo "backend_bench: no $lx (build first)" >&2; exit 1; }
# shellcheck source=bench/service_env.sh
. "$(dirname "$0")/service_env.sh"
# shellcheck disable=SC2034  # read by median_ms (bench/lib.sh)
ms_decimals=1
bench_before_exit() {
  "$lx" shutdown >/dev/null 2>&1 || true
  [ -n "$holder" ] && kill "$holder" 2>/dev/null || true
  [ -d "$debian/tmp" ] && rm -rf "$debian"/tmp/lxbench-tar.* || true
}

# The four runners of one workload. ROOT is the guest's root; each prints a median in ms, "-"
# when the runner is missing, or "failed" when the command exits non-zero.
timed() { local t; t=$(median_ms "$@") && "$@" </dev/null >/dev/null 2>&1 && echo "$t" || echo failed; }
on_lx() { local backend=$1 root=$2; shift 2; "$lx" exec --set "instance.backend=$backend" --set "fs.root=$root" --set fs.default_mounts=false -- "$@"; }

# backend_error BACKEND ROOT: empty when `lx exec` on BACKEND runs a command in ROOT (it sees
# ROOT's marker file), else why not.
backend_error() {
  local out st=0
  : >"$2/.lxbench-root"
  out=$(on_lx "$1" "$2" /bin/sh -c 'test -e /.lxbench-root || echo "the command ran outside fs.root"; test -e /.lxbench-root' 2>&1 </dev/null) || st=$?
  rm -f "$2/.lxbench-root"
  [ $st = 0 ] && return
  [ -n "$out" ] && echo "$out" | grep -v '^$' | tail -n 1 | cut -c1-100 || echo "exit status $st"
}

# Table: task, native, kernel, emulated, proot (ms), ratios to native, target for kernel.
fmt='%-9s %9s %9s %9s %9s %9s %9s %9s  %s\n'
header() { printf "$fmt" task native kernel emulated proot "kern/nat" "emul/nat" "proot/nat" "target (kernel)"; }
over() { [[ $1 =~ ^[0-9.]+$ && $2 =~ ^[0-9.]+$ ]] && ratio "$1" "$2" || echo -; }
row() {  # TASK NATIVE KERNEL EMULATED PROOT TARGET
  printf "$fmt" "$1" "$2" "$3" "$4" "$5" "$(over "$3" "$2")" "$(over "$4" "$2")" "$(over "$5" "$2")" "$6"
}
# lxrun BACKEND ROOT CMD...: the median of CMD under lx on BACKEND, or "-" when BACKEND is out.
lxrun() {
  local backend=$1; shift
  if [ "$backend" = kernel ] && [ -n "$kernel_error" ]; then echo -; return; fi
  timed on_lx "$backend" "$@"
}
prun() { have_proot && timed proot -r "$@" || echo -; }

load() { cut -d' ' -f1-3 /proc/loadavg; }
echo "lxhost backend benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(load) (1/5/15 min);" \
  "median of $runs runs (ms)"

bb_root=$work/busybox
busybox_rootfs "$bb_root"
kernel_error=$(backend_error kernel "$bb_root")
emulated_error=$(backend_error emulated "$bb_root")
[ -z "$kernel_error" ] || echo "kernel: unavailable ($kernel_error)"
[ -z "$emulated_error" ] || echo "emulated: unavailable ($emulated_error)"
have_proot || echo "proot: not installed"

header
# 1. find /usr and 4. dpkg -l in the Debian rootfs; 3. tar -x of its /usr/share.
if [ -x "$debian/usr/bin/find" ] && [ -d "$debian/var/lib/dpkg" ]; then
  entries=$(find "$debian/usr" | wc -l)
  row "find" "$(timed find "$debian/usr")" "$(lxrun kernel "$debian" find /usr)" \
    "$(lxrun emulated "$debian" find /usr)" "$(prun "$debian" find /usr)" "<= 1.1x"
  # The same walk ten times in one launch: what the walk costs once the instance runs (a single
  # find of ~15 ms natively is dominated by lx exec's start, ~7 ms on either backend).
  find10='for i in 1 2 3 4 5 6 7 8 9 10; do find ROOT/usr; done >/dev/null'
  row "find x10" "$(timed sh -c "${find10//ROOT/$debian}")" "$(lxrun kernel "$debian" /bin/sh -c "${find10//ROOT/}")" \
    "$(lxrun emulated "$debian" /bin/sh -c "${find10//ROOT/}")" "$(prun "$debian" /bin/sh -c "${find10//ROOT/}")" "-"

  tarball=$work/share.tar
  tar -cf "$tarball" -C "$debian/usr" share
  files=$(tar -tf "$tarball" | wc -l)
  # Each run extracts into a fresh directory (mktemp), from stdin; removed on exit.
  extract='tar -x -C "$(mktemp -d ROOT/tmp/lxbench-tar.XXXXXX)" -f -'
  from_tar() { "$@" <"$tarball"; }
  n=$(timed from_tar sh -c "${extract//ROOT/$debian}")
  k=-
  [ -n "$kernel_error" ] || k=$(timed from_tar on_lx kernel "$debian" sh -c "${extract//ROOT/}")
  e=$(timed from_tar on_lx emulated "$debian" sh -c "${extract//ROOT/}")
  p=$(have_proot && timed from_tar proot -r "$debian" sh -c "${extract//ROOT/}" || echo -)
  row "tar -x" "$n" "$k" "$e" "$p" "<= 1.1x"

  dpkg_n=$(timed dpkg --admindir="$debian/var/lib/dpkg" -l)
  row "dpkg -l" "$dpkg_n" "$(lxrun kernel "$debian" dpkg -l)" "$(lxrun emulated "$debian" dpkg -l)" \
    "$(prun "$debian" dpkg -l)" "-"
else
  entries=- files=-
  echo "find, tar -x, dpkg -l: no Debian rootfs at $debian (make it once: debootstrap --variant=minbase bookworm $debian)"
fi

# 2. The fork/exec loop in the busybox rootfs; natively its busybox runs through the host path.
loop='i=0; while [ $i -lt 200 ]; do /bin/true; i=$((i+1)); done'
row "fork" "$(timed "$bb_root/bin/busybox" sh -c "${loop//\/bin\/true/$bb_root/bin/true}")" \
  "$(lxrun kernel "$bb_root" /bin/sh -c "$loop")" "$(lxrun emulated "$bb_root" /bin/sh -c "$loop")" \
  "$(prun "$bb_root" /bin/sh -c "$loop")" "<= 1.15x"

# 5. Warm `lx run -- /bin/true` through the private lxhostd, the busybox rootfs imported as a
# distro; one backend after the other (an instance keeps the --set values it started with).
: >"$bb_root/.lxbench-root"
"$lx" import lxbench "$bb_root" >/dev/null
rm -f "$bb_root/.lxbench-root"
native_us=$(median_us "$bb_root/bin/true")
warm_us() {  # BACKEND: median µs of a warm `lx run`, or "-" with the reason on stderr
  local sets=(-d lxbench --set "instance.backend=$1") out
  # The distro's rootfs has a marker that the host's root has not.
  if ! out=$("$lx" run "${sets[@]}" -- /bin/sh -c 'test -e /.lxbench-root || echo "the command ran outside the distro"; test -e /.lxbench-root' 2>&1 </dev/null); then
    echo "lx run, $1: unavailable ($(echo "$out" | grep -v '^$' | tail -n 1 | cut -c1-100))" >&2
    echo -
    return
  fi
  keep_warm "${sets[@]}"
  median_us "$lx" run "${sets[@]}" -- /bin/true
  "$lx" terminate lxbench >/dev/null 2>&1 || true
  kill "$holder" 2>/dev/null || true
  wait "$holder" 2>/dev/null || true
  holder=
}
kernel_us=$(warm_us kernel)
emulated_us=$(warm_us emulated)
ms() { [ "$1" = - ] && echo - || awk -v a="$1" -v b="${2:-0}" 'BEGIN {printf "%.2f", (a-b)/1000}'; }
printf '%-9s %9s %9s %9s   %s\n' "" native kernel emulated "(ms; warm lx run -- /bin/true, busybox rootfs)"
printf '%-9s %9s %9s %9s\n' "lx run" "$(ms "$native_us")" "$(ms "$kernel_us")" "$(ms "$emulated_us")"
printf '%-9s %9s %9s %9s   %s\n' "over nat." - "$(ms "$kernel_us" "$native_us")" \
  "$(ms "$emulated_us" "$native_us")" "target (kernel): <= 3 ms over native"

echo "Debian rootfs $(cat "$debian/etc/debian_version" 2>/dev/null || echo -): /usr has $entries entries," \
  "the tarball $files; native = the host's own find/tar/dpkg on the rootfs's files (no chroot)," \
  "the rootfs's static busybox for fork and lx run; load at the end $(load)"

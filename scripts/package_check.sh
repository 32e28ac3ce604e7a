#!/bin/bash
# Checks the Debian package as a user gets it, on a fresh Debian 12 machine: in a pristine
# `debootstrap --variant=buildd bookworm` chroot, `apt install ./lxhost_VERSION_amd64.deb`; then,
# as root and as an ordinary user made there: `lx run -- /bin/true`, `lxhost-runc --help`,
# `man -w` of lx, lxhostd and lxhost-runc, the bash completion of lx and lxhost-runc, the
# systemd user units, `podman --runtime /usr/bin/lxhost-runc run` of an imported image (as root), and an out-of-tree plugin built against the installed SDK
# (find_package(lxhost), tests/plugins/probe) and run by lx; then `apt purge lxhost` (and
# `apt autoremove --purge` of the libraries it pulled in) must leave /usr, /etc and /opt as they
# were before the install, file for file, with nothing of what `dpkg -L lxhost` listed.
#
# Usage (as root on the host): scripts/package_check.sh [options] [PACKAGE.deb]
#   PACKAGE.deb     the package [the newest lxhost_*.deb in --build]
#   --build DIR     the build directory cpack made it in [build]
#   --dir DIR       the chroot (outside the clone; removed and recreated) [/var/tmp/lxhost-pkg/chroot]
#   --cache DIR     debootstrap tarball, pristine rootfs and apt archives, shared with
#                   scripts/fresh_machine_check.sh [/var/cache/lxhost-fresh]
#   --keep          leave the chroot in place afterwards (binds are always unmounted)
# Make the package first: cmake -S . -B build -G Ninja -DCMAKE_INSTALL_PREFIX=/usr &&
# cmake --build build && (cd build && cpack -G DEB). Log: DIR.log. Exit status 0 only when every
# check passed.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=build
dir=/var/tmp/lxhost-pkg/chroot
cache=/var/cache/lxhost-fresh
keep=0
deb=""
user=tester
mirror=http://deb.debian.org/debian
die() { echo "package_check: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [ -z "$deb" ] || die "one package at a time (got $deb and $1)"; deb=$1; shift ;;
  esac
done
[ "$(id -u)" -eq 0 ] || die "run as root (debootstrap, chroot, mounts)"
if [ -z "$deb" ]; then
  [ -d "$build" ] || die "no build directory $build (see --build; --help says how to make the package)"
  deb=$(ls -t "$build"/lxhost_*.deb 2>/dev/null | head -1 || true)
  [ -n "$deb" ] || die "no lxhost_*.deb in $build: run 'cpack -G DEB' there first (see --help)"
fi
[ -f "$deb" ] || die "no such package: $deb"
deb=$(realpath "$deb")
dpkg-deb --info "$deb" >/dev/null 2>&1 || die "$deb is not a Debian package"
dir=$(realpath -m "$dir")
case "$dir/" in
  "$src"/*) die "--dir $dir is inside the clone $src" ;;
  /|/usr/*|/etc/*|/bin/*|/home/|/var/|/tmp/) die "refusing --dir $dir" ;;
esac
log=$dir.log
work=$dir.work  # file lists

say() { printf '== %s  %s\n' "$(date -u +%H:%M:%S)" "$*" | tee -a "$log"; }
me=package_check
. "$src/scripts/fresh_chroot.sh"

cleanup() {
  local rc=$?
  fresh_chroot_remove "$keep"
  [ "$keep" -eq 1 ] || rm -rf "$work"
  [ $rc -eq 0 ] || echo "package_check: FAILED (exit $rc); log: $log" >&2
  exit $rc
}

# 1. A pristine bookworm buildd tree: from the cached rootfs, else debootstrap (cached too).
fresh_chroot_clear
rm -rf "$work"
mkdir -p "$work" "$(dirname "$log")"
: >"$log"
trap cleanup EXIT
trap 'exit 130' INT TERM
say "package $(basename "$deb"), chroot $dir"
fresh_chroot_make "$log"

# 2. Network and apt sources of the host, the binds, an ordinary user.
fresh_chroot_bind
chroot "$dir" /usr/sbin/useradd -m -s /bin/bash "$user"
uid=$(chroot "$dir" id -u "$user")
gid=$(chroot "$dir" id -g "$user")

# Runs a shell command line in the chroot as WHO (root or the user) with a login-like
# environment, no stdin and no terminal; its output goes to the log. In the background, so that
# INT and TERM reach the trap at once (the cleanup ends what runs in the chroot).
in_chroot() {  # in_chroot WHO COMMAND
  local who=$1 home spec groups
  if [ "$who" = root ]; then home=/root spec=0:0 groups=0; else home=/home/$who spec=$uid:$gid groups=$gid; fi
  echo "-- as $who: $2" >>"$log"
  (cd / && exec setsid chroot --userspec="$spec" --groups="$groups" "$dir" \
    /usr/bin/env -i HOME="$home" USER="$who" LOGNAME="$who" SHELL=/bin/bash LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd $home && $2" </dev/null >>"$log" 2>&1) &
  wait $!
}

declare -a failed=()
check() {  # check NAME WHO COMMAND: passes when COMMAND does
  if in_chroot "$2" "$3"; then
    say "  pass  $1 (as $2)"
  else
    say "  FAIL  $1 (as $2): $3"
    failed+=("$1 as $2")
  fi
}

# 3. What the checks use (man-db for man, bash-completion, CMake and Boost for the SDK, podman),
#    before the first file list: they are not the package's. uidmap too: lxhost recommends it, and
#    so does podman, so autoremove keeps it after the purge while podman is installed (apt keeps
#    what an installed package recommends): it belongs to the baseline, not to lxhost.
tools="man-db bash-completion cmake libboost-dev podman netavark iptables busybox-static uidmap"
say "apt-get install $tools (for the checks)"
in_chroot root "apt-get update -qq && apt-get install -y -qq --no-install-recommends $tools" ||
  { tail -20 "$log"; exit 1; }
snapshot() {  # the files and directories of the system's own trees, less the network state
  # podman writes into /etc when it runs a container (its network backends' locks and network
  # list): the podman check's, not the package's.
  chroot "$dir" find /usr /etc /opt -xdev \( -type f -o -type l -o -type d \) -print |
    grep -Ev '^/etc/(containers/networks(/|$)|cni/net\.d/[^/]*\.lock$)' | sort
}
snapshot >"$work/before"

# 4. The package, as a user installs it.
say "apt install ./$(basename "$deb")"
cp "$deb" "$dir/tmp/"
in_chroot root "cd /tmp && apt-get install -y ./$(basename "$deb")" || { tail -30 "$log"; exit 1; }
chroot "$dir" dpkg -L lxhost | sort >"$work/files"
say "installed $(grep -c . "$work/files") paths; Depends: $(chroot "$dir" dpkg-query -W -f='${Depends}' lxhost)"

# 5. Using it, as root and as the user: each check is a function of a script run in the chroot.
mkdir -p "$dir/tmp/checks/probe-src"
cp "$src"/tests/plugins/probe/CMakeLists.txt "$src"/tests/plugins/probe/probe_plugin.cpp "$dir/tmp/checks/probe-src/"
cat >"$dir/tmp/checks/check.sh" <<'CHECKS'
set -eu
# The words bash completion offers for the command line "$@" (its last word completed).
completes() {
  source /usr/share/bash-completion/bash_completion
  COMP_WORDS=("$@") COMP_CWORD=$(($# - 1)) COMP_LINE="$*" COMP_POINT=${#COMP_LINE}
  _completion_loader "$1"
  local fn
  fn=$(complete -p "$1" | sed -n 's/.*-F \([^ ]*\) .*/\1/p')
  "$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
  echo "${COMPREPLY[*]}"
}
case $1 in
  run) lx run -- /bin/true && test "$(lx run -- /bin/sh -c 'echo hello from $(id -un)')" = "hello from $(id -un)" ;;
  exec) lx exec -- /bin/true ;;
  plugins) test "$(lx plugins | grep -c '/usr/lib/x86_64-linux-gnu/lxhost/plugins/lxhost-[a-z]*\.so')" -ge 4 ;;
  shutdown) lx shutdown ;;
  runc) lxhost-runc --help | grep -q 'usage: lxhost-runc' && lxhost-runc --version | grep -q 'lxhost-runc version' ;;
  lxhostd) lxhostd --help | grep -q 'usage: lxhostd' ;;
  man) for p in lx lxhostd lxhost-runc; do test "$(man -w $p)" = /usr/share/man/man1/$p.1.gz; done
       man -P cat lx 2>/dev/null | grep -q 'lx run' ;;
  completion) test "$(completes lx se)" = service && test "$(completes lx service st)" = "start stop status" &&
              test "$(completes lxhost-runc del)" = delete ;;
  sdk) b=/tmp/checks/probe-$(id -un)
       rm -rf "$b" && cmake -S /tmp/checks/probe-src -B "$b" >/dev/null && cmake --build "$b" >/dev/null
       # The probe answers getppid (the shell's $PPID) on the NOTIFY route.
       test "$(lx exec --set "plugins.search_path=[\"$b\"]" --set families.other.plugin=probe \
               --set probe.getppid_value=4242 -- /bin/sh -c 'echo $PPID')" = 4242 ;;
  podman) # An image from a rootfs tarball (busybox's), run by podman through the package's runtime.
          r=/tmp/checks/rootfs && rm -rf "$r" && mkdir -p "$r/bin" "$r/tmp" "$r/proc" "$r/sys" "$r/dev" "$r/etc"
          cp /bin/busybox "$r/bin/" && for a in sh echo; do ln -s busybox "$r/bin/$a"; done
          tar -C "$r" -cf /tmp/checks/rootfs.tar . && podman import /tmp/checks/rootfs.tar localhost/pkgcheck >/dev/null
          set +e
          out=$(podman --runtime /usr/bin/lxhost-runc run --rm --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
                localhost/pkgcheck sh -c 'echo hi; exit 3')
          rc=$?
          set -e
          podman rmi -f localhost/pkgcheck >/dev/null
          test "$out" = hi && test $rc = 3 ;;
  units) grep -qx 'ListenStream=%t/lxhost/lxhostd.sock' /usr/lib/systemd/user/lxhostd.socket &&
         grep -qx 'ExecStart=/usr/bin/lxhostd' /usr/lib/systemd/user/lxhostd.service ;;
  *) echo "no check $1" >&2; exit 2 ;;
esac
CHECKS
chmod -R a+rwX "$dir/tmp/checks"
for who in root "$user"; do
  say "as $who:"
  check "lx run -- /bin/true, and a shell's output" "$who" "bash /tmp/checks/check.sh run"
  check "lx exec -- /bin/true" "$who" "bash /tmp/checks/check.sh exec"
  check "lx plugins: the four families' plugins from the package" "$who" "bash /tmp/checks/check.sh plugins"
  check "lx shutdown" "$who" "bash /tmp/checks/check.sh shutdown"
  check "lxhost-runc --help, --version" "$who" "bash /tmp/checks/check.sh runc"
  check "lxhostd --help" "$who" "bash /tmp/checks/check.sh lxhostd"
  check "man -w lx lxhostd lxhost-runc; man lx" "$who" "bash /tmp/checks/check.sh man"
  check "bash completion of lx and lxhost-runc" "$who" "bash /tmp/checks/check.sh completion"
  check "an out-of-tree plugin built with find_package(lxhost), run by lx exec" "$who" "bash /tmp/checks/check.sh sdk"
done
check "systemd user units of lxhostd" root "bash /tmp/checks/check.sh units"
check "podman --runtime /usr/bin/lxhost-runc run --rm IMAGE sh -c 'echo hi; exit 3'" root "bash /tmp/checks/check.sh podman"
rm -rf "$dir/tmp/checks"

# 6. Purged, nothing is left: the same file list as before the install.
say "apt purge lxhost; apt autoremove --purge"
in_chroot root "apt-get purge -y lxhost && apt-get autoremove --purge -y" || { tail -30 "$log"; exit 1; }
snapshot >"$work/after"
if diff "$work/before" "$work/after" >"$work/diff"; then
  say "  pass  the purge left /usr, /etc and /opt as they were"
else
  say "  FAIL  the purge left /usr, /etc or /opt changed (< before, > after):"
  tee -a "$log" <"$work/diff" | head -20
  failed+=("purge")
fi
left=$(while read -r f; do [ "$f" = /. ] || [ ! -e "$dir$f" ] || [ -d "$dir$f" ] || echo "$f"; done <"$work/files")
if [ -z "$left" ]; then
  say "  pass  no file of 'dpkg -L lxhost' is left"
else
  say "  FAIL  left after the purge: $(echo "$left" | tr '\n' ' ')"
  failed+=("files left")
fi
if chroot "$dir" dpkg-query -W -f='${Status}' lxhost 2>/dev/null | grep -q installed; then
  say "  FAIL  dpkg still knows lxhost"
  failed+=("dpkg status")
fi

if [ ${#failed[@]} -eq 0 ]; then
  say "package check passed ($(basename "$deb"))"
  exit 0
fi
say "package check FAILED: ${failed[*]}"
exit 1

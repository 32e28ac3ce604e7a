#!/bin/bash
# Checks that the README's commands pass on a fresh Debian 12 machine, from a clone in /root
# (mode 0700) run by root and from a clone in an ordinary user's home run by that user: builds a
# pristine `debootstrap --variant=buildd bookworm` tree, clones this repository's committed HEAD
# into it twice, runs README command 2 (`.ci/run`, CI=true, no stdin) as root, then as the user
# (after root's run did scripts/setup.sh), and README command 1 as root; then checks that
# `git status --porcelain` is empty in both clones and /tmp in the chroot is as before.
#
# Usage (as root on the host): scripts/fresh_machine_check.sh [options]
#   --dir DIR       the chroot (outside the clone; removed and recreated) [/var/tmp/lxhost-fresh/chroot]
#   --cache DIR     debootstrap tarball, pristine rootfs and apt archives [/var/cache/lxhost-fresh]
#   --rev REV       the commit to clone [HEAD of this clone]
#   --only WHO      root | user: run only that half
#   --keep          leave the chroot in place afterwards (binds are always unmounted)
# Reruns are fast: the debootstrap result and the .debs setup.sh installs are cached.
# Logs: DIR.logs/{root,user,run}.log. Exit status 0 only when every check passed.
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
dir=/var/tmp/lxhost-fresh/chroot
cache=/var/cache/lxhost-fresh
rev=HEAD
only=""
keep=0
user=tester
mirror=http://deb.debian.org/debian
while [ $# -gt 0 ]; do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    --cache) cache=$2; shift 2 ;;
    --rev) rev=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "fresh_machine_check: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" -eq 0 ] || { echo "fresh_machine_check: run as root (debootstrap, chroot, mounts)" >&2; exit 2; }
dir=$(realpath -m "$dir")
case "$dir/" in
  "$src"/*) echo "fresh_machine_check: --dir $dir is inside the clone $src" >&2; exit 2 ;;
  /|/usr/*|/etc/*|/bin/*|/home/) echo "fresh_machine_check: refusing --dir $dir" >&2; exit 2 ;;
esac
commit=$(git -C "$src" rev-parse --verify "$rev^{commit}")
logs=$dir.logs

say() { printf '== %s  %s\n' "$(date -u +%H:%M:%S)" "$*"; }
me=fresh_machine_check
. "$src/scripts/fresh_chroot.sh"

cleanup() {
  local rc=$?
  fresh_chroot_remove "$keep"
  exit $rc
}

# 1. A pristine bookworm buildd tree: from the cached rootfs, else debootstrap (cached too).
fresh_chroot_clear
rm -rf "$logs"
mkdir -p "$logs"
trap cleanup EXIT INT TERM
fresh_chroot_make "$logs/debootstrap.log"

# 2. Network and apt sources of the host; the binds; an ordinary user.
fresh_chroot_bind
chroot "$dir" /usr/sbin/useradd -m -s /bin/bash "$user"
chmod 0700 "$dir/root"

# 3. Two clones of the commit.
clone() {  # clone DEST
  git clone -q --no-hardlinks --no-checkout "$src" "$1"
  git -C "$1" checkout -q -B main "$commit"
  git -C "$1" remote remove origin
}
clone "$dir/root/lxhost"
clone "$dir/home/$user/lxhost"
uid=$(chroot "$dir" id -u "$user")
gid=$(chroot "$dir" id -g "$user")
chown -R "$uid:$gid" "$dir/home/$user/lxhost"
say "cloned $(git -C "$src" log -1 --format='%h %s' "$commit")"

# Runs a shell command line in the chroot as WHO (root or the user), from its clone, with a
# login-like environment, CI=true, no stdin and no terminal. Output to LOG, each line stamped
# with the seconds since the start.
in_chroot() {  # in_chroot WHO LOG COMMAND
  local who=$1 log=$2 cmd=$3 home spec groups
  if [ "$who" = root ]; then home=/root spec=0:0 groups=0; else home=/home/$user spec=$uid:$gid groups=$gid; fi
  (umask 022; exec setsid chroot --userspec="$spec" --groups="$groups" "$dir" \
    /usr/bin/env -i HOME="$home" USER="$who" LOGNAME="$who" SHELL=/bin/bash LANG=C.UTF-8 CI=true \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "cd $home/lxhost && $cmd" </dev/null 2>&1) | stamp >"$log"
}
stamp() {
  local t0=$SECONDS line
  while IFS= read -r line; do printf '[%4ds] %s\n' $((SECONDS - t0)) "$line"; done
}

(cd "$dir/tmp" && find . -mindepth 1 | sort) >"$logs/tmp-before.txt"
declare -A result took
run() {  # run NAME WHO COMMAND
  local name=$1 who=$2 cmd=$3 t0=$SECONDS rc=0
  say "$name: as $who: $cmd"
  in_chroot "$who" "$logs/$name.log" "$cmd" &  # in the background: INT/TERM reach the trap at once
  wait $! || rc=$?
  took[$name]=$((SECONDS - t0))
  if [ $rc -eq 0 ]; then result[$name]=pass; else result[$name]="FAIL (exit $rc)"; fi
  local tests_from
  tests_from=$(grep -m1 -o '^\[ *[0-9]*s\] Test project' "$logs/$name.log" | grep -o '[0-9]*' || true)
  took[$name]="${took[$name]} s"
  [ -n "$tests_from" ] && took[$name]="${took[$name]}: set-up and build ${tests_from} s, ctest $((SECONDS - t0 - tests_from)) s"
  say "$name: ${result[$name]} in ${took[$name]} (log $logs/$name.log)"
  grep -E '\] [0-9]+% tests passed|tests failed out of|\][[:space:]]+[0-9]+ - .*\((Failed|Timeout|Subprocess|SEGFAULT|Not Run|Exception)' \
    "$logs/$name.log" || tail -5 "$logs/$name.log"
}

# 4. README command 2 as root from /root (it runs setup.sh), then as the user from its home;
#    then README command 1 as root (its daemon is stopped after).
if [ "$only" != user ]; then
  run root-tests root .ci/run
elif [ "$only" = user ]; then
  run root-setup root scripts/setup.sh
fi
[ "$only" != root ] && run user-tests "$user" .ci/run
(cd "$dir/tmp" && find . -mindepth 1 | sort) >"$logs/tmp-after.txt"
if [ "$only" != user ]; then
  run root-run root \
    "$(awk '/^<!-- run-command -->$/{getline; getline; print; exit}' "$dir/root/lxhost/README.md") && build/bin/lx service stop"
  grep -q 'hello from' "$logs/root-run.log" || result[root-run]="FAIL (no greeting)"
fi

# 5. Nothing changed in the clones or in /tmp.
check() {  # check NAME OK? DETAIL
  if [ "$2" = ok ]; then result[$1]=pass; else result[$1]="FAIL: $3"; fi
}
for c in root user; do
  [ "$only" != "" ] && [ "$only" != $c ] && continue
  if [ $c = root ]; then d=$dir/root/lxhost; else d=$dir/home/$user/lxhost; fi
  st=$(git -C "$d" -c safe.directory='*' status --porcelain)
  check "git-status-$c" "$([ -z "$st" ] && echo ok)" "$(echo "$st" | head -5 | tr '\n' ' ')"
done
new=$(diff "$logs/tmp-before.txt" "$logs/tmp-after.txt" | grep '^[<>]' || true)
check tmp-unchanged "$([ -z "$new" ] && echo ok)" "$(echo "$new" | head -10 | tr '\n' ' ')"

say "summary ($(git -C "$src" log -1 --format=%h "$commit"), chroot $dir)"
fail=0
for k in root-setup root-tests user-tests root-run git-status-root git-status-user tmp-unchanged; do
  [ -n "${result[$k]:-}" ] || continue
  printf '  %-16s %s%s\n' "$k" "${result[$k]}" "${took[$k]:+ (${took[$k]})}"
  [ "${result[$k]}" = pass ] || fail=1
done
exit $fail

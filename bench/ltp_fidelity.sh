#!/usr/bin/env bash
# The Linux Test Project's syscall tests as a benchmark of fidelity (issue 12): runs every tag of
# runtest/syscalls natively and under each mode below, as root and as an ordinary user, and prints
# for each run how many tags passed, failed, were not applicable (TCONF) or timed out, then the
# tags that pass natively and not there. The modes:
#   lx-translated  the emulated backend with every path translated: lx exec --set fs.root=/.
#   lx-kernel      the kernel backend, the same root: lx exec --set fs.root=/. (user namespace)
#   lx-default     the emulated backend with the embedded default config (the host's root; the
#                  instance's /proc)
#   proot          proot translating the same host root: proot -r /
#
# LTP is not part of lxhost: build it from its public repository (linux-test-project/ltp) and
# give this script the installed tree (the directory with runtest/ and testcases/bin/).
#
#   bench/ltp_fidelity.sh --ltp DIR [--build DIR] [--modes LIST] [--users LIST] [--jobs N]
#                         [--timeout SECONDS] [--filter REGEX] [--out DIR]
#
# Results go to --out (default ./ltp-results): one <user>-<mode>.tsv per run (tag, result, exit
# status, seconds) and one <user>-<mode>.log with each failing tag's output. A run that was
# interrupted goes on where it stopped when started again with the same --out (delete the .tsv
# to start over); the summary is printed from what the .tsv files hold.
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/ltp_fidelity.sh --ltp DIR [options]
  --ltp DIR        an installed LTP tree (DIR/runtest/syscalls, DIR/testcases/bin)
  --build DIR      lxhost's build directory (default: build beside this script's tree)
  --modes LIST     comma-separated, of: native, lx-translated, lx-kernel, lx-default, proot
                   (default: all five; each is compared with the native run of the same --out,
                   so runs of single modes may go side by side into one --out)
  --users LIST     comma-separated, of: root, nobody (uid 65534) (default: root,nobody;
                   only nobody when not run as root)
  --jobs N         tags run at once (default 1: some tags share system resources)
  --timeout S      seconds one tag may take before it is killed and counted as timed out
                   (default 300; LTP's own per-test timeout usually ends it first)
  --runtime-mul X  LTP_RUNTIME_MUL for every tag (default 1): below 1 shortens the tests that
                   run for a set time (races, stress), e.g. 0.1
  --filter REGEX   only the tags matching REGEX (grep -E)
  --out DIR        where results are kept (default ./ltp-results)
  --summary        print the summary of what --out holds, run nothing
  --reasons        with the lost tags, the class of each one's first failure (what lxhost
                   cannot or will not do), counted by class
EOF
}

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ltp="" build="$here/build" modes="native,lx-translated,lx-kernel,lx-default,proot" users="" jobs=1 timeout=300
filter="" out="$PWD/ltp-results" summary_only=0 runtime_mul=1 reasons=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --ltp) ltp=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --users) users=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    --runtime-mul) runtime_mul=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --summary) summary_only=1; shift ;;
    --reasons) reasons=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "ltp_fidelity: unknown option '$1' (--help)" >&2; exit 2 ;;
  esac
done
die() { echo "ltp_fidelity: $*" >&2; exit 1; }
[[ -n "$users" ]] || { if [[ $(id -u) == 0 ]]; then users=root,nobody; else users=nobody; fi; }
mkdir -p "$out"
out=$(cd "$out" && pwd)

# reasons_of LOST LOG [KERNEL]: each lost tag with the class of its first failure (its first TFAIL/TBROK
# line in LOG), counts by class first. The classes are what lxhost cannot or will not do.
reasons_of() {
  awk -v kernel="${3:-0}" '
    FILENAME == ARGV[1] { split($0, a, " "); lost[a[1]] = 1; order[++n] = a[1]; next }
    /^=== / { tag = $2; next }
    tag in lost && !(tag in first) && /TFAIL|TBROK|TWARN/ { first[tag] = $0 }
    END {
      mounts = kernel ? "mounts a filesystem (a user namespace cannot mount a loop device or most filesystems)" \
                      : "mounts a device filesystem (only the kernel mounts one; the emulated backend mounts binds, tmpfs, proc)"
      for (i = 1; i <= n; i++) {
        t = order[i]; l = first[t]; c = "other: see the log"
        if (t ~ /^(access04|chmod06|creat06|fchmod06|link08|mkdir03|mkdirat02|mknod07|rmdir02)$/)
          c = mounts
        else if (t ~ /^landlock/) c = "Landlock (disabled where lx acts for the guest)"
        else if (t ~ /^(mount02|ioctl04)$/) c = mounts
        else if (t ~ /^(open_by_handle_at0[12]|name_to_handle_at01)$/)
          c = "open_by_handle_at (refused in a guest root: a handle opens any file of the host filesystem)"
        else if (t ~ /^io_uring/) c = "io_uring (ENOSYS where paths are translated: its opens would bypass the filter)"
        else if (l ~ /set(e)?uid\(65534\) failed: EINVAL/)
          c = "uid 65534 is not mapped in the user namespace of an ordinary user (its own uid and subordinate range are)"
        else if (t ~ /^inotify01$/) c = "IN_CLOSE_WRITE a moment late: lx closes its copy of an opened file after the guest runs on"
        else if (t ~ /^openat202$/) c = "openat2 RESOLVE_* flags beyond the guest root own rules are not applied"
        else if (t ~ /^prctl02$/) c = "seccomp (the guest runs under lx filter, with no_new_privs)"
        else if (l ~ /EADDRINUSE|EEXIST \(17\)/) c = "side-by-side runs: a port or IPC key another run held"
        else if (t ~ /^epoll_wait10$/) c = "an emulated mount has none of the kernel own effects (the events of a real one)"
        else if (t ~ /^(listmount|statmount)/ && l !~ /mount\(\/dev/)
          c = "listmount/statmount read the host mount table, not the instance one (lx mounts, chroot)"
        else if (l ~ /mount\(|mkfs|loop|umount|fsopen|fsmount|move_mount|open_tree|fsconfig|ro_mntpoint|EROFS/)
          c = mounts
        else if (l ~ /ptrace|PTRACE/) c = "ptrace (lx traces the guest itself on the emulated backend)"
        else if (l ~ /O_PATH|2228224|10400000/) c = "O_PATH (no O_PATH file can be installed in another process)"
        else if (l ~ /acct/) c = "acct (host-wide, refused)"
        else if (l ~ /[Ll]andlock/) c = "Landlock (disabled where lx acts for the guest)"
        else if (l ~ /pid=|PID|event.pid|peer/) c = "lx is the caller of what it does for the guest: fanotify event pids"
        else if (l ~ /SECCOMP|seccomp/) c = "seccomp (the guest runs under lx filter, with no_new_privs)"
        else if (l ~ /\/proc\/1[,\/) ]|[a-z_]\(1[,)]|ESRCH/) c = "a process outside the instance (pid 1): confinement"
        else if (kernel && l ~ /EPERM|EACCES|ENOMEM/)
          c = "needs a capability of the host user namespace (the kernel backend root is root of its own namespace only)"
        else if (l ~ /ETXTBSY|shouldn.t be executed|succeeded unexpectedly/ && t ~ /^(execve|creat07)/)
          c = "dynamic programs run through ld.so: their file is not write-denied (ETXTBSY)"
        else if (l ~ /netns|net\/ipv4|sysctl/) c = "a new network namespace: /proc/sys/net is opened by lx in its own"
        cnt[c]++; cls[t] = c; line[t] = l
      }
      for (c in cnt) printf "%5d  %s\n", cnt[c], c | "sort -rn"
      close("sort -rn")
      for (i = 1; i <= n; i++) { t = order[i]; printf "%-24s %s\n    %s\n", t, cls[t], substr(line[t], 1, 160) }
    }' "$1" "$2"
}

# The summary of every <user>-<mode>.tsv in $out: counts, then the tags lost against native.
summary() {
  local user mode f nf
  printf '%-8s %-14s %6s %6s %6s %6s %8s %s\n' user mode tags pass fail conf timeout "lost (pass natively, not here)"
  for user in ${users//,/ }; do
    nf="$out/$user-native.tsv"
    for mode in ${modes//,/ }; do
      f="$out/$user-$mode.tsv"
      [[ -s "$f" ]] || continue
      awk -F'\t' -v user="$user" -v mode="$mode" -v nf="$nf" '
        BEGIN { if (mode != "native") while ((getline line < nf) > 0) { split(line, a, "\t"); if (a[2] == "pass") native[a[1]] = 1 } }
        { n++; c[$2]++; if ($2 != "pass" && ($1 in native)) lost++ }
        END { printf "%-8s %-14s %6d %6d %6d %6d %8d %s\n", user, mode, n, c["pass"], c["fail"], c["conf"], c["timeout"],
              mode == "native" ? "-" : lost + 0 }' "$f"
    done
  done
  for user in ${users//,/ }; do
    nf="$out/$user-native.tsv"
    [[ -s "$nf" ]] || continue
    for mode in ${modes//,/ }; do
      [[ "$mode" != native && -s "$out/$user-$mode.tsv" ]] || continue
      awk -F'\t' 'FILENAME == ARGV[1] { if ($2 == "pass") p[$1] = 1; next } ($1 in p) && $2 != "pass" { print $1 " (" $2 ")" }' \
        "$nf" "$out/$user-$mode.tsv" | sort >"$out/lost-$user-$mode.txt"
      echo
      echo "# $user, $mode: $(wc -l <"$out/lost-$user-$mode.txt") tags pass natively and not here ($out/lost-$user-$mode.txt)"
      if [[ $reasons == 1 ]]; then
        reasons_of "$out/lost-$user-$mode.txt" "$out/$user-$mode.log" "$([[ $mode == lx-kernel ]] && echo 1 || echo 0)" |
          tee "$out/reasons-$user-$mode.txt"
      else
        column -c 110 "$out/lost-$user-$mode.txt" 2>/dev/null || cat "$out/lost-$user-$mode.txt"
      fi
    done
  done
}

if [[ $summary_only == 1 ]]; then summary; exit 0; fi

[[ -n "$ltp" ]] || { usage >&2; exit 2; }
[[ -f "$ltp/runtest/syscalls" && -d "$ltp/testcases/bin" ]] ||
  die "'$ltp' is not an installed LTP tree (no runtest/syscalls or testcases/bin)"
ltp=$(cd "$ltp" && pwd)
lx="$build/bin/lx"
for mode in ${modes//,/ }; do
  case "$mode" in
    native) ;;
    lx-translated|lx-kernel|lx-default) [[ -x "$lx" ]] || die "no lx at $lx (--build)" ;;
    proot) command -v proot >/dev/null || die "proot is not installed (apt-get install proot)" ;;
    *) die "unknown mode '$mode' (native, lx-translated, lx-kernel, lx-default, proot)" ;;
  esac
done
for user in ${users//,/ }; do
  case "$user" in
    root) [[ $(id -u) == 0 ]] || die "the root runs need root" ;;
    nobody) [[ $(id -u) == 0 || $(id -u) == 65534 ]] || die "the nobody runs need root (setpriv) or uid 65534" ;;
    *) die "unknown user '$user' (root, nobody)" ;;
  esac
done

# The tags: "tag command..." lines of runtest/syscalls (comments and blank lines dropped).
tags=$(mktemp "$out/.tags.XXXXXX")
runner=""
# Stopped: the tags running now are stopped too (what is done stays in the .tsv).
stop() {
  if [[ -n "$runner" ]]; then pkill -TERM -P "$runner" 2>/dev/null || true; kill "$runner" 2>/dev/null || true; fi
  exit 130
}
trap stop INT TERM
trap 'rm -f "$tags" "$tags.todo"' EXIT
grep -Ev '^[[:space:]]*(#|$)' "$ltp/runtest/syscalls" | { if [[ -n "$filter" ]]; then grep -E "$filter" || true; else cat; fi; } >"$tags"
total=$(wc -l <"$tags")
[[ $total -gt 0 ]] || die "no tag matches"

# run_tag USER MODE LINE: runs one tag, appends "tag result status seconds" to the run's .tsv.
run_tag() {
  local user=$1 mode=$2 line=$3 tag cmd tmp rc t0 t1 result log
  tag=${line%%[[:space:]]*}
  cmd=${line#"$tag"}
  tmp="$out/tmp/$user-$mode"
  local -a wrap=() as=()
  case "$mode" in
    native) ;;
    lx-translated) wrap=("$lx" exec --set instance.backend=emulated --set fs.root=/. --) ;;
    lx-kernel) wrap=("$lx" exec --set instance.backend=kernel --set fs.root=/. --) ;;
    lx-default) wrap=("$lx" exec --set instance.backend=emulated --) ;;
    proot) wrap=(proot -r / -w "$tmp") ;;
  esac
  if [[ "$user" == nobody && $(id -u) == 0 ]]; then as=(setpriv --reuid 65534 --regid 65534 --clear-groups); fi
  # The tags that set the system clock run one at a time across the runs sharing this --out:
  # two of them side by side restore each other's clock wrongly.
  local -a serial=()
  if [[ $tag =~ ^(adjtimex|clock_adjtime|clock_settime|settimeofday|stime|leapsec) ]]; then
    serial=(flock "$out/.clock.lock")
  fi
  log=$(mktemp "$out/tmp/log.XXXXXX")
  t0=$(date +%s%N)
  set +e
  (cd "$tmp" && exec env -i PATH="$ltp/testcases/bin:/usr/sbin:/usr/bin:/sbin:/bin" LTPROOT="$ltp" TMPDIR="$tmp" \
     HOME="$tmp" LANG=C LTP_COLORIZE_OUTPUT=0 LTP_RUNTIME_MUL="$runtime_mul" \
     "${serial[@]}" timeout -k 10 "$timeout" "${as[@]}" "${wrap[@]}" /bin/sh -c "$cmd") </dev/null >"$log" 2>&1
  rc=$?
  set -e
  t1=$(date +%s%N)
  case $rc in
    0) result=pass ;;
    32) result=conf ;;            # TCONF only: not applicable here
    124|137) result=timeout ;;    # killed by timeout(1)
    *) result=fail ;;
  esac
  if [[ $result != pass && $result != conf ]]; then
    { echo "=== $tag ($result, status $rc)"; tail -c 4000 "$log"; } >>"$out/$user-$mode.log"
  fi
  rm -f "$log"
  printf '%s\t%s\t%s\t%s\n' "$tag" "$result" "$rc" "$(((t1 - t0) / 1000000000))" >>"$out/$user-$mode.tsv"
}

# Unmounts what a killed test left mounted under the run's scratch directory.
unmount_leftovers() {
  awk -v p="$out/tmp/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
}

mkdir -p "$out/tmp"
chmod 0755 "$out" "$out/tmp"
for user in ${users//,/ }; do
  for mode in ${modes//,/ }; do
    tsv="$out/$user-$mode.tsv"
    touch "$tsv"
    tmp="$out/tmp/$user-$mode"
    mkdir -p "$tmp"
    chmod 0777 "$tmp"
    [[ $user == nobody && $(id -u) == 0 ]] && chown 65534:65534 "$tmp"
    # What is still to run: the tags not in the .tsv yet.
    todo="$tags.todo"
    awk -F'\t' 'FILENAME == ARGV[1] { done[$1] = 1; next } { split($0, a, /[ \t]/); if (!(a[1] in done)) print }' \
      "$tsv" "$tags" >"$todo"
    n=$(wc -l <"$todo")
    echo "ltp_fidelity: $user, $mode: $n of $total tags to run ($jobs at a time)" >&2
    started=$(date +%s)
    export -f run_tag
    export out ltp lx timeout runtime_mul
    i=0
    while IFS= read -r line; do printf '%s\0' "$line"; done <"$todo" |
      xargs -0 -r -P "$jobs" -I{} bash -c 'run_tag "$@"' _ "$user" "$mode" {} &
    runner=$!
    # Progress every 30 s: how many are done, how many did not pass.
    while kill -0 "$runner" 2>/dev/null; do
      sleep 1
      i=$((i + 1))
      ((i % 30 == 0)) || continue
      echo "ltp_fidelity: $user, $mode: $(wc -l <"$tsv")/$total done, $(awk -F'\t' '$2 != "pass" && $2 != "conf"' "$tsv" | wc -l) not passed, $(($(date +%s) - started)) s" >&2
    done
    wait "$runner" || true
    unmount_leftovers
    rm -rf "$tmp"
  done
done
rm -f "$tags" "$tags.todo"
rmdir "$out/tmp" 2>/dev/null || true  # another run may still use it
summary

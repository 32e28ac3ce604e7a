#!/usr/bin/env bash
# The OCI runtime-tools validation suite (opencontainers/runtime-tools, validation/*/*.go) as a
# benchmark of conformance: runs every validation executable against each runtime given (runc's
# command line: create/start/state/kill/delete), collects each executable's TAP output, and prints
# per runtime how many executables passed, failed, were skipped, crashed or timed out, and how many
# TAP lines were ok / not ok / skipped; then the validations the first runtime passes and each other
# one does not, each with its first failing line.
#
# runtime-tools is not part of lxhost: give this script a checkout of its public repository,
# outside this tree. It builds the executables there when they are missing or older than a source
# file, as the checkout's `make runtimetest validation-executables` does, offline (the vendored
# modules, GOFLAGS=-mod=vendor GOPROXY=off). runtime-tools asks for Go 1.21; with an older Go
# (Debian 12's 1.19) the few Go 1.20/1.21 library calls it and its vendored modules make (the
# slices package, sync.OnceValue(s), strings.CutPrefix) are given through a build overlay written
# under --out: the checkout's files are not changed.
#
#   bench/oci_validation.sh --tools DIR [--runtime RT]... [--out DIR] [--jobs N] [--timeout S]
#                           [--filter REGEX] [--rebuild]
#   bench/oci_validation.sh --summary --out DIR
#
# Each executable runs with the checkout as its working directory (it reads rootfs-<arch>.tar.gz
# and runtimetest from there), RUNTIME set to a wrapper that adds `--root` (a state directory of
# its own per executable, under --out) and TMPDIR under --out (the bundles). After it, the
# containers left in its --root are deleted with --force, what it left mounted under its TMPDIR is
# unmounted, and its processes are killed. Everything the run writes is under --out, but for the
# executables it builds in the checkout and the cgroups the cgroup validations make (removed at
# the end when the run made them and they are empty).
set -euo pipefail

usage() {
  cat <<'EOF'
usage: bench/oci_validation.sh --tools DIR [options]
  --tools DIR      a checkout of opencontainers/runtime-tools (built or not: the validation
                   executables and runtimetest are built there, with the vendored modules and no
                   network, when missing or older than a source file)
  --runtime RT     an OCI runtime with runc's command line: a path or a name in PATH; repeat it
                   for several (default: runc). The first one is the reference: the summary lists
                   the validations it passes and each other runtime does not
  --out DIR        where logs and results go (default: a new mktemp -d directory, reported)
  --jobs N         validation executables run at once per runtime (default 1; the cgroup ones,
                   which share the cgroup path /cgrouptest, never two at once); the runtimes
                   run one after the other. Above 1 is faster but makes a few validations
                   flaky (hook timings; runc's process_rlimits hit ENOMEM here with 2)
  --timeout S      seconds one executable may take before it is killed and counted as timed
                   out (default 120)
  --filter REGEX   only the validations whose name matches REGEX (grep -E), e.g. '^(create|state)$'
  --rebuild        build the executables even when they look up to date
  --summary        print the summary of what --out holds, run nothing
Needs root (runtime-tools creates containers as root), tar, and Go (golang-go) to build. Each
runtime is called through a wrapper that puts runc's global option --root DIR (a state directory
of its own per validation, under --out) before runtime-tools' arguments: it must accept --root.

Prints a table of totals per runtime: executables that passed, failed, were skipped, crashed and
timed out; TAP lines ok, not ok and skipped ("# SKIP"); the seconds the executables took, added
up. Then, for each runtime after the first, the validations the first passes and it does not,
each with its status, its first failing line (the first "not ok" line; for a crash or a timeout,
how it ended) and under it what explains it (the stderr in that line's diagnostic, else the
executable's stderr); and the validations it passes and the first does not, on one line.
Results in --out: build.log and build/ (the Go overlay) when it built, runtimes.tsv (label,
runtime path), bin/ (the --root wrappers), and per runtime LABEL/ (the basename of the
runtime): results.tsv (validation, status, exit code, milliseconds, ok, not ok, skip, first
failing line, explanation), NAME.tap (stdout) and NAME.err (stderr) of each validation;
lost-LABEL.txt: the validations the reference passes and LABEL does not.
An executable's status: timeout (killed after --timeout), crashed (it exited non-zero: most
validations end through util.Fatal when the runtime refuses a step; or its TAP stopped short of
its plan), fail (a "not ok" line, or no test line and an "error:" diagnostic, which is how the
hooks and *_fail validations report), skip (every test line skipped), pass (otherwise; an
executable that exits 0 with no TAP at all passes: process_*_fail print nothing when the runtime
refused the bad config, as it must).
EOF
}

tools="" out="" jobs=1 timeout=120 filter="" rebuild=0 summary_only=0
runtimes=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --tools) tools=$2; shift 2 ;;
    --runtime) runtimes+=("$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    --rebuild) rebuild=1; shift ;;
    --summary) summary_only=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "oci_validation: unknown option '$1' (--help)" >&2; exit 2 ;;
  esac
done
die() { echo "oci_validation: $*" >&2; exit 1; }
[[ $jobs =~ ^[1-9][0-9]*$ ]] || die "--jobs needs a positive number"
[[ $timeout =~ ^[1-9][0-9]*$ ]] || die "--timeout needs a positive number of seconds"

# --- the summary ---------------------------------------------------------------------------------

# summary: the totals of every runtime in $out/runtimes.tsv, then what each loses against the first.
summary() {
  [[ -s "$out/runtimes.tsv" ]] || die "$out holds no results (no runtimes.tsv)"
  local -a labels=()
  local label ref
  while IFS=$'\t' read -r label _; do labels+=("$label"); done <"$out/runtimes.tsv"
  printf '%-16s %5s | %5s %5s %5s %7s %7s | %6s %6s %6s | %s\n' runtime execs pass fail skip crashed timeout \
    ok "not ok" skip seconds
  for label in "${labels[@]}"; do
    [[ -s "$out/$label/results.tsv" ]] || { printf '%-16s (no results)\n' "$label"; continue; }
    awk -F'\t' -v label="$label" '
      { n++; c[$2]++; ok += $5; nok += $6; sk += $7; t += $4 }
      END { printf "%-16s %5d | %5d %5d %5d %7d %7d | %6d %6d %6d | %.1f\n", label, n, c["pass"], c["fail"], c["skip"],
            c["crashed"], c["timeout"], ok, nok, sk, t / 1000 }' "$out/$label/results.tsv"
  done
  ref=${labels[0]}
  [[ -s "$out/$ref/results.tsv" ]] || return 0
  for label in "${labels[@]:1}"; do
    [[ -s "$out/$label/results.tsv" ]] || continue
    awk -F'\t' 'FILENAME == ARGV[1] { if ($2 == "pass") p[$1] = 1; next }
                ($1 in p) && $2 != "pass" { printf "%s\t%s\t%s\t%s\n", $1, $2, $8, $9 }' \
      "$out/$ref/results.tsv" "$out/$label/results.tsv" | sort >"$out/lost-$label.txt"
    echo
    echo "# $label: $(wc -l <"$out/lost-$label.txt") validations pass on $ref and not on $label ($out/lost-$label.txt)"
    awk -F'\t' '{ printf "%-36s %s\n    %s\n", $1, $2, substr($3, 1, 200); if ($4 != "") printf "      %s\n", substr($4, 1, 300) }' \
      "$out/lost-$label.txt"
    local gained
    gained=$(awk -F'\t' 'FILENAME == ARGV[1] { if ($2 != "pass") p[$1] = 1; next } ($1 in p) && $2 == "pass" { print $1 }' \
      "$out/$ref/results.tsv" "$out/$label/results.tsv" | sort | paste -sd' ')
    [[ -z "$gained" ]] || echo "# $label passes and $ref does not: $gained"
  done
  return 0
}

if [[ $summary_only == 1 ]]; then
  [[ -n "$out" ]] || die "--summary needs --out"
  out=$(cd "$out" && pwd)
  summary
  exit 0
fi

# --- checks --------------------------------------------------------------------------------------

[[ -n "$tools" ]] || { usage >&2; exit 2; }
[[ $(id -u) == 0 ]] || die "runtime-tools' validations create containers: run this as root"
[[ -d "$tools/validation" && -d "$tools/cmd/runtimetest" && -f "$tools/go.mod" ]] ||
  die "'$tools' is not a runtime-tools checkout (no validation/, cmd/runtimetest or go.mod)"
tools=$(cd "$tools" && pwd)
[[ ${#runtimes[@]} -gt 0 ]] || runtimes=(runc)
command -v timeout >/dev/null || die "timeout (coreutils) is missing"
command -v flock >/dev/null || die "flock (util-linux) is missing"

# The runtimes: label (basename, made unique), absolute path.
declare -a labels=() paths=()
for rt in "${runtimes[@]}"; do
  p=$(command -v "$rt" || true)
  [[ -n "$p" && -x "$p" && ! -d "$p" ]] || die "runtime '$rt' is not an executable (a path, or a name in PATH)"
  p=$(realpath "$p")
  label=$(basename "$p")
  n=2
  while printf '%s\n' "${labels[@]}" | grep -qxF "$label"; do label="$(basename "$p")-$n"; n=$((n + 1)); done
  labels+=("$label")
  paths+=("$p")
done

# The validations: validation/NAME/NAME.go (util is their library).
arch=$(uname -m)
case "$arch" in x86_64) goarch=amd64 ;; i?86) goarch=386 ;; aarch64) goarch=arm64 ;; *) goarch=$arch ;; esac
[[ -f "$tools/rootfs-$goarch.tar.gz" ]] || die "$tools has no rootfs-$goarch.tar.gz: the validations have no rootfs for this machine"
mapfile -t all_tests < <(cd "$tools/validation" && for d in */; do d=${d%/}; [[ $d != util && -f "$d/$d.go" ]] && echo "$d"; done)
[[ ${#all_tests[@]} -gt 0 ]] || die "no validation/NAME/NAME.go in $tools"
tests=()
for t in "${all_tests[@]}"; do
  if [[ -z "$filter" ]] || grep -qE "$filter" <<<"$t"; then tests+=("$t"); fi
done
[[ ${#tests[@]} -gt 0 ]] || die "no validation matches '$filter'"

[[ -n "$out" ]] || { out=$(mktemp -d "${TMPDIR:-/tmp}/oci-validation.XXXXXX"); echo "oci_validation: results in $out" >&2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
mkdir -p "$out/tmp"
# Go's and the validations' temporary files go under --out, nowhere else.
export TMPDIR="$out/tmp"

# --- the build -----------------------------------------------------------------------------------

# go_compat_overlay DIR: when Go is older than 1.21, writes into DIR a build overlay (overlay.json)
# giving what runtime-tools and its vendored modules use of Go 1.20/1.21's library: the slices
# package (Contains, DeleteFunc) and, in each file that calls them, sync.OnceValue, sync.OnceValues
# and strings.CutPrefix/CutSuffix replaced by equivalents in a file added to its package. Prints
# the overlay's path, or nothing when none is needed.
go_compat_overlay() {
  local dir=$1 minor f pkg i=0
  minor=$(go env GOVERSION | sed -nE 's/^go1\.([0-9]+).*/\1/p')
  [[ -n "$minor" && $minor -lt 21 ]] || return 0
  mkdir -p "$dir"
  local -a pairs=()
  if [[ $minor -lt 21 ]] && grep -rqlE '^[[:space:]]*"slices"$' --include='*.go' "$tools" 2>/dev/null; then
    cat >"$dir/slices.go" <<'EOF'
// Package slices: what runtime-tools uses of Go 1.21's slices, for an older Go.
package slices

func Contains[S ~[]E, E comparable](s S, v E) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func DeleteFunc[S ~[]E, E any](s S, del func(E) bool) S {
	j := 0
	for _, x := range s {
		if !del(x) {
			s[j] = x
			j++
		}
	}
	var zero E
	for k := j; k < len(s); k++ {
		s[k] = zero
	}
	return s[:j]
}
EOF
    pairs+=("$tools/vendor/slices/slices.go" "$dir/slices.go")
  fi
  declare -A pkgs=()
  while IFS= read -r f; do
    i=$((i + 1))
    sed -E -e 's/\bsync\.OnceValues\(/ociCompatOnceValues(/g' -e 's/\bsync\.OnceValue\(/ociCompatOnceValue(/g' \
      -e 's/\bstrings\.CutPrefix\(/ociCompatCutPrefix(/g' -e 's/\bstrings\.CutSuffix\(/ociCompatCutSuffix(/g' \
      "$f" >"$dir/file$i.go"
    # Keep the imports used (the file may have called nothing else of them).
    grep -qE '^[[:space:]]*"sync"$|^import "sync"$' "$f" && printf '\nvar _ sync.Mutex\n' >>"$dir/file$i.go"
    grep -qE '^[[:space:]]*"strings"$|^import "strings"$' "$f" && printf '\nvar _ = strings.Cut\n' >>"$dir/file$i.go"
    pairs+=("$f" "$dir/file$i.go")
    pkgs[$(dirname "$f")]=$(sed -nE 's/^package ([A-Za-z0-9_]+).*/\1/p' "$f" | head -1)
  done < <(grep -rlE '\bsync\.OnceValues?\(|\bstrings\.Cut(Prefix|Suffix)\(' --include='*.go' "$tools" | grep -v '_test\.go$' || true)
  for pkg in "${!pkgs[@]}"; do
    i=$((i + 1))
    cat >"$dir/compat$i.go" <<EOF
package ${pkgs[$pkg]}

// Go 1.20/1.21 library calls for an older Go (written by bench/oci_validation.sh).

import (
	"strings"
	"sync"
)

func ociCompatOnceValue[T any](f func() T) func() T {
	var (
		once sync.Once
		r    T
	)
	return func() T {
		once.Do(func() { r = f() })
		return r
	}
}

func ociCompatOnceValues[T1, T2 any](f func() (T1, T2)) func() (T1, T2) {
	var (
		once sync.Once
		r1   T1
		r2   T2
	)
	return func() (T1, T2) {
		once.Do(func() { r1, r2 = f() })
		return r1, r2
	}
}

func ociCompatCutPrefix(s, prefix string) (string, bool) {
	if !strings.HasPrefix(s, prefix) {
		return s, false
	}
	return s[len(prefix):], true
}

func ociCompatCutSuffix(s, suffix string) (string, bool) {
	if !strings.HasSuffix(s, suffix) {
		return s, false
	}
	return s[:len(s)-len(suffix)], true
}
EOF
    pairs+=("$pkg/zz_oci_validation_compat.go" "$dir/compat$i.go")
  done
  {
    printf '{"Replace":{'
    for ((i = 0; i < ${#pairs[@]}; i += 2)); do
      [[ $i == 0 ]] || printf ','
      printf '"%s":"%s"' "${pairs[i]}" "${pairs[i + 1]}"
    done
    printf '}}\n'
  } >"$dir/overlay.json"
  echo "$dir/overlay.json"
}

# build: builds runtimetest and the validation executables that are missing or older than a source
# file of the checkout (every one with --rebuild).
build() {
  local -a todo=()
  local t exe newest
  newest=$(find "$tools" -name '*.go' -newer "$tools/runtimetest" -print -quit 2>/dev/null || echo missing)
  [[ $rebuild == 0 && -x "$tools/runtimetest" && -z "$newest" ]] || todo+=(runtimetest)
  for t in "${tests[@]}"; do
    exe="$tools/validation/$t/$t.t"
    if [[ $rebuild == 1 || ! -x "$exe" ]] || [[ -n $(find "$tools" -name '*.go' -newer "$exe" -print -quit) ]]; then
      todo+=("$t")
    fi
  done
  [[ ${#todo[@]} -gt 0 ]] || return 0
  command -v go >/dev/null || die "the validation executables are to be built and there is no go (apt-get install golang-go)"
  [[ -d "$tools/vendor" ]] || die "$tools has no vendor/: this script builds offline, from the vendored modules only"
  echo "oci_validation: building ${#todo[@]} executables in $tools with $(go env GOVERSION)" >&2
  local overlay commit version log="$out/build.log"
  overlay=$(go_compat_overlay "$out/build/compat")
  [[ -z "$overlay" ]] || echo "oci_validation: $(go env GOVERSION) is older than runtime-tools' go 1.21: the overlay $overlay gives the few newer library calls" >&2
  commit=$(git -C "$tools" describe --dirty --long --always --tags 2>/dev/null || echo unknown)
  version=$(cat "$tools/VERSION" 2>/dev/null || echo unknown)
  local -a flags=(-mod=vendor)
  [[ -z "$overlay" ]] || flags+=(-overlay "$overlay")
  : >"$log"
  for t in "${todo[@]}"; do
    if [[ $t == runtimetest ]]; then
      # As the Makefile's runtimetest target: static, it runs inside the containers' rootfs.
      (cd "$tools" && env GOFLAGS= GOPROXY=off GOTOOLCHAIN=local GOWORK=off GO111MODULE=on \
        go build "${flags[@]}" -tags "netgo osusergo" \
        -ldflags "-extldflags -static -X main.gitCommit=$commit -X main.version=$version" -o runtimetest ./cmd/runtimetest) \
        >>"$log" 2>&1 || { tail -20 "$log" >&2; die "building runtimetest failed (all of it in $log)"; }
    else
      (cd "$tools" && env GOFLAGS= GOPROXY=off GOTOOLCHAIN=local GOWORK=off GO111MODULE=on \
        go build "${flags[@]}" -ldflags "-X main.gitCommit=$commit -X main.version=$version" \
        -o "validation/$t/$t.t" "./validation/$t/$t.go") \
        >>"$log" 2>&1 || { tail -20 "$log" >&2; die "building validation/$t failed (all of it in $log)"; }
    fi
  done
}

# --- one validation ------------------------------------------------------------------------------

# run_test LABEL RUNTIME_INDEX TEST_INDEX TEST: runs validation TEST against the runtime of LABEL
# (its wrapper is $out/bin/LABEL), appends its line to $out/LABEL/results.tsv.
run_test() {
  local label=$1 ri=$2 ti=$3 t=$4
  local dir="$out/$label" root="$out/s/$ri.$ti" tmp="$out/tmp/$ri.$ti" rt rc pid t0 t1 status first
  rt=$(awk -F'\t' -v l="$label" '$1 == l { print $2 }' "$out/runtimes.tsv")
  mkdir -p "$root" "$tmp"
  # The cgroup validations share the cgroup path /cgrouptest: one at a time, across runtimes too.
  if [[ $t =~ cgroups|delete_resources ]]; then exec 9>"$out/.cgroup.lock"; flock 9; fi
  t0=$(date +%s%N)
  # timeout(1) puts itself and the validation in a process group of their own (killed after).
  (cd "$tools" && exec env RUNTIME="$out/bin/$label" OCI_VALIDATION_ROOT="$root" TMPDIR="$tmp" \
     timeout -k 10 "$timeout" "./validation/$t/$t.t" 9>&-) </dev/null >"$dir/$t.tap" 2>"$dir/$t.err" &
  pid=$!
  set +e
  wait "$pid"
  rc=$?
  set -e
  t1=$(date +%s%N)
  kill -KILL -- "-$pid" 2>/dev/null || true
  # What it left: containers in its --root, mounts under its TMPDIR, the bundles.
  "$rt" --root "$root" list -q 2>/dev/null | while read -r id; do
    if [[ -n "$id" ]]; then timeout 30 "$rt" --root "$root" delete --force "$id" >/dev/null 2>&1 || true; fi
  done
  awk -v p="$tmp/" 'index($2, p) == 1 { print $2 }' /proc/self/mounts | sort -r | while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done
  rm -rf "$tmp" "$root" 2>/dev/null || true
  if [[ $t =~ cgroups|delete_resources ]]; then exec 9>&-; fi
  # The TAP: top-level lines only (runtimetest's own TAP inside a YAML diagnostic is indented).
  local ok nok skip first why
  IFS=$'\037' read -r status ok nok skip first why < <(awk -v rc="$rc" -v timeout="$timeout" -v errf="$dir/$t.err" '
    # A YAML diagnostic value ("key": "text",) as one line.
    function value(l) { sub(/^ *"[A-Za-z_]+": */, "", l); sub(/,$/, "", l); gsub(/^"|"$/, "", l); gsub(/\\n/, " | ", l)
                        gsub(/\\"/, "\"", l); sub(/( \| )+$/, "", l); return l }
    /^ok/ { if (tolower($0) ~ /#[[:space:]]*skip/) skip++; else ok++; inblock = 0; next }
    /^not ok/ { inblock = 0; if ($0 ~ /#[[:space:]]*TODO/) { ok++; next } nok++; if (first == "") { first = $0; inblock = 1 }; next }
    /^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; planned = 1; next }
    # The diagnostic after the first "not ok": its stderr (what the runtime said), else its error.
    inblock && /^    "stderr": / && stderr == "" { stderr = value($0) }
    inblock && /^    "error": / && error == "" { error = value($0) }
    inblock && /^  \.\.\.$/ { inblock = 0 }
    # A top-level error diagnostic (how the hooks and *_fail validations report), and its stderr.
    /^  ---$/ { top = 1 } /^  \.\.\.$/ { top = 0 }
    top && /^    "error": / && diag == "" { diag = value($0); indiag = 1 }
    top && indiag && /^    "stderr": / && diagerr == "" { diagerr = value($0) }
    /^  \.\.\.$/ { indiag = 0 }
    END {
      n = ok + nok + skip
      # What explains the first failure: the stderr in its diagnostic, else the executable stderr
      # (what util.Fatal and the runtime said), else the error in its diagnostic.
      e = ""
      while ((getline l < errf) > 0) { gsub(/[ \t]+$/, "", l); if (l != "") e = e (e == "" ? "" : " | ") l }
      why = stderr != "" ? stderr : e != "" ? e : error
      if (rc == 124 || rc == 137) { status = "timeout"; end = "timed out after " timeout " s" }
      else if (rc != 0) { status = "crashed"; end = "exit status " rc }
      else if (planned && n < plan) { status = "crashed"; end = "TAP stopped after " n " of " plan " tests" }
      else if (nok > 0) status = "fail"
      else if (n == 0 && diag != "") { status = "fail"; first = "error diagnostic: " diag; if (diagerr != "") why = diagerr }
      else if (n > 0 && ok == 0) status = "skip"
      else status = "pass"
      if (first == "" && end != "") { first = end; why = e }
      if (status == "pass" || status == "skip") why = ""
      if (length(why) > 400) why = substr(why, 1, 400) "..."
      gsub(/\t/, " ", first); gsub(/\t/, " ", why)
      printf "%s\037%d\037%d\037%d\037%s\037%s\n", status, ok, nok, skip, first, why
    }' "$dir/$t.tap")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$status" "$rc" "$(((t1 - t0) / 1000000))" "$ok" "$nok" "$skip" \
    "$first" "$why" >>"$dir/results.tsv"
  echo "oci_validation: $label: $t: $status ($(((t1 - t0) / 1000000)) ms)" >&2
}

# --- the run -------------------------------------------------------------------------------------

build
mkdir -p "$out/bin" "$out/s"
: >"$out/runtimes.tsv"
for i in "${!labels[@]}"; do
  printf '%s\t%s\n' "${labels[i]}" "${paths[i]}" >>"$out/runtimes.tsv"
  # runtime-tools runs RUNTIME with no global option: the wrapper adds the --root of this validation.
  # shellcheck disable=SC2016  # $OCI_VALIDATION_ROOT and $@ are the wrapper's
  printf '#!/bin/bash\nexec %q --root "${OCI_VALIDATION_ROOT:?}" "$@"\n' "${paths[i]}" >"$out/bin/${labels[i]}"
  chmod 0755 "$out/bin/${labels[i]}"
done

# The cgroups the cgroup validations make (cgroupsPath /cgrouptest and testdir/cgrouptest/container,
# under each hierarchy): those that were not there before are removed at the end, when empty.
cgroup_dirs() {
  find /sys/fs/cgroup -maxdepth 8 -type d \( -name cgrouptest -o -name testdir -o -path '*/testdir/cgrouptest/container' \) \
    2>/dev/null | sort -r || true
}
cgroup_dirs >"$out/.cgroups-before"
remove_new_cgroups() {
  cgroup_dirs | { grep -vxFf "$out/.cgroups-before" || true; } | while read -r d; do rmdir "$d" 2>/dev/null || true; done
  rm -f "$out/.cgroups-before"
}

runner=""
stop() {
  if [[ -n "$runner" ]]; then pkill -TERM -P "$runner" 2>/dev/null || true; kill "$runner" 2>/dev/null || true; fi
  exit 130
}
trap stop INT TERM
export -f run_test
export out tools timeout
started_all=$(date +%s)
for i in "${!labels[@]}"; do
  label=${labels[i]}
  mkdir -p "$out/$label"
  : >"$out/$label/results.tsv"
  echo "oci_validation: $label (${paths[i]}): ${#tests[@]} validations, $jobs at a time" >&2
  started=$(date +%s)
  for j in "${!tests[@]}"; do printf '%s\0%s\0' "$j" "${tests[j]}"; done |
    xargs -0 -r -n 2 -P "$jobs" bash -c 'run_test "$@"' _ "$label" "$i" &
  runner=$!
  wait "$runner" || true
  runner=""
  # The table in the order of the validations.
  sort -t$'\t' -k1,1 -o "$out/$label/results.tsv" "$out/$label/results.tsv"
  echo "oci_validation: $label: done in $(($(date +%s) - started)) s" >&2
done
remove_new_cgroups
rm -f "$out/.cgroup.lock"
rmdir "$out/s" "$out/tmp" 2>/dev/null || true
echo "oci_validation: all runtimes in $(($(date +%s) - started_all)) s; logs in $out" >&2
echo
summary

#!/bin/bash
# Runs each fuzz target (fuzz_protocol, fuzz_config) for a fixed time with a seed corpus made
# from the project's own files: the requests the service tests send, the embedded default
# config, the config tests' TOML and --set strings. Everything is written under a work
# directory outside the clone (a new one under $TMPDIR, removed afterwards unless something
# crashed; or --work DIR, kept, so a later run goes on from its corpus).
#
#   fuzz/run.sh --bin BUILD/fuzz [--time SECONDS] [--work DIR] [TARGET...]
#
# Exit status: 0 when no target crashed, 1 otherwise (the crashing inputs are named).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
bin="" time=60 work="" keep=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --time) time=$2; shift 2 ;;
    --work) work=$2; keep=1; shift 2 ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ -n "$bin" ] || { echo "run.sh: --bin DIR (the fuzz build directory, e.g. build/fuzz) is required" >&2; exit 2; }
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_protocol fuzz_config)
if [ -z "$work" ]; then work=$(mktemp -d "${TMPDIR:-/tmp}/lxhost-fuzz.XXXXXX"); fi
case "$(realpath -m "$work")/" in
  "$src"/*) echo "run.sh: the work directory must be outside the clone ($src)" >&2; exit 2 ;;
esac

# Seeds for the protocol target: each request the service tests send (first byte 1: the rest
# is the payload, sent with its length prefix), and a few whole streams (first byte 0).
seed_protocol() {
  local dir=$1 n=0 j
  while IFS= read -r j; do
    printf '\001%s' "$j" >"$dir/test-$n"; n=$((n + 1))
  done < <(grep -oh 'R"({.*})"' "$src"/tests/service/*.cpp | sed 's/^R"(//; s/)"$//' | sort -u)
  local requests=(
    '{"v":1,"cmd":"ping"}' '{"v":1,"cmd":"list-commands"}' '{"v":1,"cmd":"status"}' '{"v":1,"cmd":"list"}'
    '{"v":1,"cmd":"run","distro":"","cd":"","user":"","sets":["proc.max_processes=50"],"tty":false,"stderr_tty":false,"argv":["/bin/sh","-c","echo hi"],"env":["PATH=/usr/bin:/bin","HOME=/root"],"cwd":"/tmp","ignored_signals":[13],"blocked_signals":[],"rows":24,"cols":80}'
    '{"v":1,"cmd":"install","distro":"deb","path":"/tmp/rootfs.tar.gz"}' '{"v":1,"cmd":"terminate","distro":"deb"}'
    '{"v":1,"cmd":"default","distro":"deb"}' '{"v":1,"cmd":"export","distro":"deb","path":"/tmp/x.tar"}'
    '{"v":1,"cmd":"signal","signal":2}' '{"event":"exit","status":0,"signal":0,"code":0}'
    '{"v":1,"cmd":"run","argv":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}'
  )
  for j in "${requests[@]}"; do
    printf '\001%s' "$j" >"$dir/req-$n"
    printf '\003%s' "$j" >"$dir/req-fds-$n"
    printf '\000\000\000\000\024%s' '{"v":1,"cmd":"ping"}' >"$dir/stream-$n"
    n=$((n + 1))
  done
}

# Seeds for the config target: TOML text, then --set strings after NUL bytes.
seed_config() {
  local dir=$1 n=0 s
  sed -n '/R"toml(/,/)toml"/p' "$src/config/default_config.h" | sed '1s/.*R"toml(//; $s/)toml".*//' >"$dir/default.toml"
  while IFS= read -r s; do
    printf '%b' "$s" >"$dir/test-toml-$n"; n=$((n + 1))
  done < <(grep -oh 'merge_string("[^"]*\(\\"[^"]*\)*"' "$src"/tests/config/*.cpp | sed 's/^merge_string("//; s/"$//' | sort -u)
  while IFS= read -r s; do
    printf '\000%b' "$s" >"$dir/test-set-$n"; n=$((n + 1))
  done < <(grep -oh 'apply_set("[^"]*\(\\"[^"]*\)*"' "$src"/tests/config/*.cpp "$src"/tests/*/*.cpp | sed 's/^apply_set("//; s/"$//' | sort -u)
  printf '[instance]\nlinger = "5m"\ngrace = "2s"\n\000proc.max_processes=50\000fs.root=/srv/r\000instance.linger=forever' >"$dir/sets"
}

status=0
for t in "${targets[@]}"; do
  exe="$bin/$t"
  [ -x "$exe" ] || { echo "run.sh: $exe is not built" >&2; exit 2; }
  mkdir -p "$work/$t/corpus" "$work/$t/seeds" "$work/$t/artifacts"
  "seed_${t#fuzz_}" "$work/$t/seeds"
  echo "run.sh: $t for ${time}s ($(ls "$work/$t/seeds" | wc -l) seeds, corpus $work/$t/corpus)"
  # -timeout is wall-clock time: 120 s, as a 133 ms input once passed 20 s on a machine busy with
  # a build and the tests (the fuzzer niced). A run stopped with SIGINT (libFuzzer: "run
  # interrupted") is a stop, not a crash.
  rc=0
  "$exe" -max_total_time="$time" -max_len=65536 -timeout=120 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/$t/artifacts/" "$work/$t/corpus" "$work/$t/seeds" >"$work/$t/log" 2>&1 || rc=$?
  if [ "$rc" != 0 ] && ! { grep -q 'libFuzzer: run interrupted' "$work/$t/log" && [ -z "$(ls "$work/$t/artifacts")" ]; }; then
    status=1
    keep=1
    echo "run.sh: $t FOUND A CRASH: $(ls "$work/$t/artifacts")  (log: $work/$t/log)" >&2
    grep -A30 'ERROR\|==ERROR\|deadly signal' "$work/$t/log" | head -60 >&2 || true
  else
    grep -E 'stat::number_of_executed_units|^Done' "$work/$t/log" | sed "s/^/run.sh: $t: /" || true
  fi
done
if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "run.sh: kept $work"; fi
exit "$status"

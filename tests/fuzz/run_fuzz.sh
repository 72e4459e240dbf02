#!/usr/bin/env bash
# Runs the libFuzzer target (see CMakeLists.txt beside this file).
#   run_fuzz.sh regressions   every file in regressions/ once; all must pass
#   run_fuzz.sh fuzz          FUZZ_SECONDS of fuzzing on one core, seeded with
#                             real images dumped here (raw and zstd) and the
#                             regression inputs; prints the executions count.
#                             Fails, besides on a crash, when libFuzzer's final
#                             stats show fewer than FUZZ_MIN_EXECS executions
#                             (default 1000), or when fewer than
#                             FUZZ_MIN_STAGED inputs (default 20) were staged
#                             completely in the sandboxed child (file
#                             preparation and staging, tests/fuzz/Sandbox.h),
#                             so a run that fuzzed nothing, or never got past
#                             phase 1, cannot pass.
# A crash leaves its input in $FUZZ_ARTIFACTS (default: the work dir, kept);
# fix the bug and add the input to regressions/.
# Environment: FUZZER, CKPT, PROGRAMS, FUZZ_DIR, FUZZ_SECONDS.
set -u -o pipefail
: "${FUZZER:?}" "${FUZZ_DIR:?}"
mode=${1:-fuzz}
[[ -x $FUZZER ]] || { echo "run_fuzz: $FUZZER is not built" >&2; exit 1; }

if [[ $mode == regressions ]]; then
  shopt -s nullglob
  inputs=("$FUZZ_DIR"/regressions/*)
  ((${#inputs[@]})) || { echo "run_fuzz: no regression inputs in $FUZZ_DIR/regressions" >&2; exit 1; }
  # Given files, libFuzzer runs each once and stops at the first failure.
  "$FUZZER" "${inputs[@]}" 2>&1 | tail -n 40
  rc=${PIPESTATUS[0]}
  ((rc == 0)) || { echo "run_fuzz: a regression input fails again (status $rc)" >&2; exit 1; }
  echo "run_fuzz: ${#inputs[@]} regression inputs pass"
  exit 0
fi

: "${CKPT:?}" "${PROGRAMS:?}"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ckpt-fuzz.XXXXXX") || exit 1
keep=0
sleeper_pid=
cleanup() {
  [[ -n $sleeper_pid ]] && kill -9 "$sleeper_pid" 2>/dev/null
  ((keep)) || rm -rf "$WORK"
}
trap cleanup EXIT
mkdir "$WORK/corpus"
cp "$FUZZ_DIR"/regressions/* "$WORK/corpus/" 2>/dev/null

# Seeds: a real process caught in nanosleep, dumped raw and compressed.
for compress in none zstd; do
  (  # with fds 0-2 only: the dumper refuses any other
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      ((fd > 2)) && eval "exec $fd>&-"
    done
    exec "$PROGRAMS/sleeper" 1000 >/dev/null 2>&1 </dev/null
  ) &
  sleeper_pid=$!
  disown "$sleeper_pid"  # killed by the dump: no job notice
  sleep 0.2
  "$CKPT" dump "$sleeper_pid" -o "$WORK/corpus/sleeper-$compress.ckpt" --compress "$compress" --kill \
    >/dev/null 2>"$WORK/dump.err" || { echo "run_fuzz: cannot make a seed image: $(cat "$WORK/dump.err")" >&2; exit 1; }
  sleeper_pid=
done

# And one with a socket record (tests/tools/image_edit add_socket), so that
# the socket decoder, its rules and restore's socket checks are fuzzed too
# (in the sandbox's own network namespace).
"$PROGRAMS/../tools/image_edit" "$WORK/corpus/sleeper-none.ckpt" "$WORK/corpus/sleeper-socket.ckpt" add_socket=7 \
  >/dev/null 2>"$WORK/edit.err" || { echo "run_fuzz: cannot make the socket seed: $(cat "$WORK/edit.err")" >&2; exit 1; }

# And one carrying seccomp filters (image_edit seccomp_add): their decoder,
# the kernel's checks and the interpreter restore runs them through.
"$PROGRAMS/../tools/image_edit" "$WORK/corpus/sleeper-none.ckpt" "$WORK/corpus/sleeper-seccomp.ckpt" seccomp_add=2 \
  >/dev/null 2>"$WORK/edit.err" || { echo "run_fuzz: cannot make the seccomp seed: $(cat "$WORK/edit.err")" >&2; exit 1; }

artifacts=${FUZZ_ARTIFACTS:-$WORK/artifacts}
mkdir -p "$artifacts"
CKPT_FUZZ_STATS="$WORK/sandbox.stats" "$FUZZER" -max_total_time="${FUZZ_SECONDS:-60}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$WORK/corpus" >"$WORK/fuzz.log" 2>&1
rc=$?
runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$WORK/fuzz.log" | grep -o '[0-9]*$')
if ((rc != 0)); then
  keep=1
  tail -n 60 "$WORK/fuzz.log" >&2
  if grep -q 'sandbox cannot be set up' "$WORK/fuzz.log"; then
    echo "run_fuzz: FAIL: the sandbox for file preparation and staging cannot be set up here:" \
         "$(grep -m 1 'no sandbox' "$WORK/fuzz.log")" >&2
    exit 1
  fi
  echo "run_fuzz: FAIL: the fuzzer found a crash (status $rc) after ${runs:-?} executions; input(s): $(ls "$artifacts")" \
       "in $artifacts; log $WORK/fuzz.log" >&2
  exit 1
fi
# The target rewrites $WORK/sandbox.stats after every sandboxed input.
sandboxed=$(grep -ho 'sandboxed file preparation and staging: [0-9]* inputs, [0-9]* staged' \
              "$WORK/sandbox.stats" "$WORK/fuzz.log" 2>/dev/null | tail -n 1)
reached= staged=
if [[ $sandboxed =~ ([0-9]+)\ inputs,\ ([0-9]+)\ staged ]]; then
  reached=${BASH_REMATCH[1]} staged=${BASH_REMATCH[2]}
fi
min_execs=${FUZZ_MIN_EXECS:-1000} min_staged=${FUZZ_MIN_STAGED:-20}
if [[ -z $runs ]] || ((runs < min_execs)); then
  keep=1
  echo "run_fuzz: FAIL: ${runs:-no} executions in ${FUZZ_SECONDS:-60} s (libFuzzer's final stats), fewer than" \
       "the minimum of $min_execs; log $WORK/fuzz.log" >&2
  exit 1
fi
if [[ -z $staged ]] || ((staged < min_staged)); then
  keep=1
  grep -m 3 'no sandbox\|sandbox cannot' "$WORK/fuzz.log" >&2
  echo "run_fuzz: FAIL: ${staged:-no} inputs staged in the sandboxed child (of ${reached:-?} that reached it)," \
       "fewer than the minimum of $min_staged: file preparation and staging were not fuzzed; log $WORK/fuzz.log" >&2
  exit 1
fi
echo "run_fuzz: PASS: $runs executions in ${FUZZ_SECONDS:-60} s (at least $min_execs required), corpus of" \
     "$(ls "$WORK/corpus" | wc -l) inputs, no crash; $reached inputs reached file preparation and staging in the" \
     "sandbox, $staged staged completely (at least $min_staged required)"

#!/usr/bin/env bash
# libckpt from C (tests/programs/libckpt_caller.c, linked statically):
# ckpt_checkpoint returns twice. A single-threaded and a four-threaded
# caller each checkpoint themselves; the original is told it is the
# original; three copies restored from each image are told they are copies,
# each with a copy id of its own, the hook run (the cached pid refreshed),
# every thread counting again and the library's pipe absent. Errors: the
# dumper missing (CKPT_E_NODUMPER 2), an unwritable output path
# (CKPT_E_DUMP 4, ckpt's line naming it) and the dumper killed in the
# middle of the dump (CKPT_FAULT=kill, CKPT_E_DUMP): the caller gets the
# code and a message and runs on, neither stopped nor traced. And
# libckpt's own refusals: no path, unknown flags, a 65th hook, a second
# checkpoint while one runs (CKPT_E_BUSY), a dumper failing without a
# word, a child subreaper caller.
source "$(dirname "$0")/lib.sh"

caller=$PROGRAMS/libckpt_caller
run_caller() {  # NAME THREADS IMAGE [EXPECTED_ERROR], env passed through
  local name=$1
  shift
  timeout 120 "$caller" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err"
}

for threads in 0 4; do
  img=$WORK/t$threads.ckpt
  CKPT_BIN=$CKPT run_caller orig$threads "$threads" "$img" || fail "caller with $threads threads failed"
  grep -q "^PASS original threads=$threads" "$WORK/orig$threads.out" || fail "original $threads: no PASS"
  [[ -f $img ]] || fail "no image at $img"
  ids=()
  for copy in 1 2 3; do
    timeout 120 "$RESTORE" "$img" >"$WORK/copy$threads.$copy.out" 2>"$WORK/copy$threads.$copy.err" ||
      fail "restore of $img (copy $copy) failed"
    line=$(grep '^PASS copy' "$WORK/copy$threads.$copy.out") || fail "copy $copy of $threads threads: no PASS"
    [[ $line == *"generation=1 threads=$threads" ]] || fail "copy $copy: $line"
    ids+=("$(sed -n 's/^PASS copy id=\([0-9a-f]\{16\}\) .*/\1/p' <<<"$line")")
    [[ -n ${ids[-1]} ]] || fail "copy $copy: no copy id in: $line"
  done
  distinct=$(printf '%s\n' "${ids[@]}" | sort -u | wc -l)
  ((distinct == 3)) || fail "threads=$threads: the three copies share ids: ${ids[*]}"
  log "threads=$threads: original and three copies told apart (${ids[*]})"
done

# The dumper missing.
CKPT_BIN=$WORK/no-such-ckpt run_caller missing 2 "$WORK/m.ckpt" 2 || fail "missing dumper: not reported"
grep -q '^error 2 .*no-such-ckpt' "$WORK/missing.out" || fail "missing dumper: message does not name it"
# An output path in a folder that does not exist.
CKPT_BIN=$CKPT run_caller unwritable 2 "$WORK/no-dir/x.ckpt" 4 || fail "unwritable output: not reported"
grep -q '^error 4 .*no-dir' "$WORK/unwritable.out" || fail "unwritable output: message does not name the path"
[[ -e $WORK/no-dir ]] && fail "unwritable output: something was created"
# The dumper killed in the middle, after it seized the caller.
CKPT_BIN=$CKPT CKPT_FAULT=kill CKPT_FAULT_AT=6 run_caller killed 2 "$WORK/k.ckpt" 4 || fail "dumper killed: not reported"
grep -q '^error 4 .*signal 9' "$WORK/killed.out" || fail "dumper killed: message does not say so"
[[ -e $WORK/k.ckpt ]] && fail "dumper killed: an image was committed"
log "errors reported with code and message, caller running"

# libckpt's own refusals (tests/programs/libckpt_errors.c); the slow dumper
# holds the first checkpoint while a second one is tried.
printf '#!/bin/sh\n: >started\nwhile [ ! -e release ]; do sleep 0.01; done\necho "ckpt: slow and failing" >&2\nexit 1\n' \
  >"$WORK/slow-ckpt"
chmod +x "$WORK/slow-ckpt"
(cd "$WORK" && timeout 120 "$PROGRAMS/libckpt_errors" "$WORK/slow-ckpt" >"$WORK/errors.out" 2>"$WORK/errors.err") ||
  fail "libckpt_errors failed"
grep -q '^PASS' "$WORK/errors.out" || fail "libckpt_errors: no PASS"
log PASS

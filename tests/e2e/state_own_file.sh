#!/usr/bin/env bash
# state_own_file (tests/programs/state_own_file.c) under the state.sh
# protocol, run in $WORK (the program makes perf/PID there), plus the
# refusal: without the folder at restore, restore refuses before its point
# of no return, naming the file; and after a restore the original's file is
# untouched.
source "$(dirname "$0")/lib.sh"
prog=state_own_file
TEST_NAME=$prog
cd "$WORK" && mkdir perf || fail "mkdir $WORK/perf"

fresh_must_fail "$prog"

start orig "$PROGRAMS/$prog"
wait_lines orig 1
orig_pid=$PID_orig
dump orig "$WORK/$prog.ckpt"
cp "perf/$orig_pid" "$WORK/orig-file" || fail "the original's file perf/$orig_pid is missing"

mv perf perf.away
"$RESTORE" "$WORK/$prog.ckpt" </dev/null >"$WORK/r1.out" 2>"$WORK/r1.err"
rc=$?
((rc == 1)) && grep -q "cannot create $WORK/perf/[0-9]* for the per-process file $WORK/perf/$orig_pid mapped at 0x[0-9a-f]*: its folder is missing" "$WORK/r1.err" ||
  fail "restore without the folder: exit $rc, $(cat "$WORK/r1.err")"
log "refused: $(cat "$WORK/r1.err")"
mv perf.away perf

restore_start back "$WORK/$prog.ckpt"
send back check
close_input back
wait_exit back any
grep -q '^PASS' "$WORK/back.out" && ((EXIT_STATUS == 0)) ||
  fail "restored $prog did not PASS (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/back.out" | head -n 5)"
check_quiet "$WORK/back.err" "restored $prog"
cmp -s "perf/$orig_pid" "$WORK/orig-file" || fail "the restore changed the original's file perf/$orig_pid"
log "$(grep '^PASS' "$WORK/back.out")"

#!/usr/bin/env bash
# Generic harness for the programs tests/programs/state_*.c and restart_*.c,
# one per piece of process state a restored process must find unchanged.
# Usage: state.sh PROGRAM
#
# Protocol of such a program:
#   - It sets its state up, prints a first line starting with "ready", and
#     waits: in read(0), or (restart_*) in the system call under test.
#   - When its call returns and it has read one line from stdin ("check"),
#     it checks its state from inside and prints "PASS ..." and exits 0, or
#     prints "FAIL ..." lines naming what differs and exits 1.
#   - Given --fresh, it skips setting the state up (or, restart_*, entering
#     the call) and otherwise behaves the same: its check must then FAIL.
#     That proves the check can fail at all.
# The test: a --fresh run must FAIL; a normal run is dumped with --kill once
# ready, restored, sent "check", and must PASS.
source "$(dirname "$0")/lib.sh"
prog=${1:?usage: state.sh PROGRAM}
TEST_NAME=$prog

wait_ready() {
  wait_lines "$1" 1
  head -n 1 "$WORK/$1.out" | grep -q '^ready' || fail "$1 did not print 'ready' first"
}

start fresh "$PROGRAMS/$prog" --fresh
wait_ready fresh
send fresh check
close_input fresh
wait_exit fresh any
((EXIT_STATUS != 0)) && grep -q '^FAIL' "$WORK/fresh.out" ||
  fail "$prog --fresh did not FAIL its check (status $EXIT_STATUS): the check cannot tell"

start orig "$PROGRAMS/$prog"
wait_ready orig
sleep 0.1  # let it enter the call it waits in
dump orig "$WORK/$prog.ckpt"
restore_start back "$WORK/$prog.ckpt"
send back check
close_input back
wait_exit back any
grep -q '^PASS' "$WORK/back.out" && ((EXIT_STATUS == 0)) ||
  fail "restored $prog did not PASS (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/back.out" | head -n 5)"
check_quiet "$WORK/back.err" "restored $prog"
log "$(grep '^PASS' "$WORK/back.out" | head -n 1)"

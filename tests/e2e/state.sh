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

fresh_must_fail "$prog"

start orig "$PROGRAMS/$prog"
wait_lines orig 1
head -n 1 "$WORK/orig.out" | grep -q '^ready' || fail "$prog did not print 'ready' first"
sleep 0.1  # let it enter the call it waits in
dump orig "$WORK/$prog.ckpt"
restored_must_pass "$WORK/$prog.ckpt" "$prog"

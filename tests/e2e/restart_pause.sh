#!/usr/bin/env bash
# restart_pause: replaces state.sh for tests/programs/restart_pause.c.
# Usage: restart_pause.sh [PROGRAM]   (default restart_pause)
#
# pause(2) returns only after a signal handler ran; with none, an interrupt
# (the dumper's ptrace stop) ends in -ERESTARTNOHAND and the call is made
# again: the process never leaves pause(). The program cannot observe that
# from inside without a handler, so this script does, through
# /proc/PID/syscall ("NR ARG1..ARG6 SP PC" for a thread blocked in a call):
#   - a --fresh run (pause never entered) must print FAIL and exit non-zero;
#   - the original must sit in syscall 34 when dumped;
#   - the restored process must sit in the same call with the same argument
#     registers, sp and pc (the very pause() re-executed, not returned from);
#   - the "check" line and EOF on stdin must not end it, and the restored
#     process must print nothing (it prints FAIL if pause ever returns);
#   - SIGTERM, whose default action terminates, then ends it: status 143.
source "$(dirname "$0")/lib.sh"
prog=${1:-restart_pause}
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
  fail "$prog --fresh did not FAIL (status $EXIT_STATUS): the check cannot tell"

start orig "$PROGRAMS/$prog"
wait_ready orig
sleep 0.1  # let it enter pause()
before=$(cat "/proc/$PID_orig/syscall" 2>/dev/null)
[[ $before == "34 "* ]] || fail "$prog (pid $PID_orig) is not blocked in pause (syscall 34): '$before'"
dump orig "$WORK/$prog.ckpt"
restore_start back "$WORK/$prog.ckpt"

# restore becomes the restored process in place; wait until it is blocked
# in a system call again and compare that call with the original's.
after=
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  after=$(cat "/proc/$PID_back/syscall" 2>/dev/null) || { after=gone; break; }
  [[ $after == "$before" ]] && break
  sleep 0.05
done
[[ $after == "$before" ]] ||
  fail "restored $prog is not back in the same pause(): before the dump '$before', after restore '$after'"

# The input cannot end pause(); give a wrongly resumed process time to act.
send back check
close_input back
sleep 0.3
after=$(cat "/proc/$PID_back/syscall" 2>/dev/null) || after=gone
[[ $after == "$before" ]] || fail "restored $prog left pause() after its input: now '$after'"
# "ready" went to orig.out; the restored process must print nothing at all.
[[ -s $WORK/back.out ]] && fail "restored $prog printed: $(head -n 3 "$WORK/back.out")"

kill -TERM "$PID_back"
wait_exit back any
((EXIT_STATUS == 143)) || fail "restored $prog exited with status $EXIT_STATUS after SIGTERM, expected 143"
check_quiet "$WORK/back.err" "restored $prog"
log "PASS pause re-executed after restore (/proc/PID/syscall: $before), ended by SIGTERM"

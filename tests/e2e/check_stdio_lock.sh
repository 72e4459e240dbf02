#!/usr/bin/env bash
# fds 0-2 are restore's own at restore time (the shell-job convention), so
# a lock the process holds through one of them could not be held again:
# `ckpt dump --kill` refuses it in one line naming the fd, before killing
# anything, and the process runs on.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
# stdout is a regular file here ($WORK/orig.out): flock it.
PROG='
import fcntl, sys
fcntl.flock(1, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.readline()
print("still running", flush=True)
'
start orig "$PYTHON" -c "$PROG"
wait_lines orig 1
"$CKPT" dump "$PID_orig" -o "$WORK/never.ckpt" --kill >"$WORK/dump.out" 2>"$WORK/dump.err"
rc=$?
((rc == 1)) || fail "ckpt dump exited $rc, want 1: $(cat "$WORK/dump.err")"
[[ $(wc -l <"$WORK/dump.err") == 1 ]] || fail "ckpt dump said more than one line: $(cat "$WORK/dump.err")"
grep -q "cannot dump fd 1: it holds a flock, but fds 0-2 are restore's own" "$WORK/dump.err" ||
  fail "ckpt dump did not name fd 1 and its flock: $(cat "$WORK/dump.err")"
[[ ! -e $WORK/never.ckpt ]] || fail "ckpt dump left an image behind"
send orig go
wait_lines orig 2
close_input orig
wait_exit orig 0
log "refused: $(cat "$WORK/dump.err")"
log "PASS"

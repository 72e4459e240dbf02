#!/usr/bin/env bash
# An open file whose SIGIO goes to another process (F_SETOWN of the
# parent's pid) could not keep that owner after restore (ids mean nothing
# there): `ckpt dump --kill` refuses it in one line naming the fd and the
# owner, before killing anything, and the process runs on.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
PROG='
import fcntl, os, sys
r, w = os.pipe()
fcntl.fcntl(r, fcntl.F_SETOWN, os.getppid())
print(r, os.getppid(), flush=True)
sys.stdin.readline()
print("still running", flush=True)
'
start orig "$PYTHON" -c "$PROG"
wait_lines orig 1
read -r rfd parent <"$WORK/orig.out"
"$CKPT" dump "$PID_orig" -o "$WORK/never.ckpt" --kill >"$WORK/dump.out" 2>"$WORK/dump.err"
rc=$?
((rc == 1)) || fail "ckpt dump exited $rc, want 1: $(cat "$WORK/dump.err")"
[[ $(wc -l <"$WORK/dump.err") == 1 ]] || fail "ckpt dump said more than one line: $(cat "$WORK/dump.err")"
grep -q "cannot dump fd $rfd: its SIGIO goes to process $parent, which is not this process" "$WORK/dump.err" ||
  fail "ckpt dump did not name fd $rfd and process $parent: $(cat "$WORK/dump.err")"
[[ ! -e $WORK/never.ckpt ]] || fail "ckpt dump left an image behind"
send orig go
wait_lines orig 2
close_input orig
wait_exit orig 0
log "refused: $(cat "$WORK/dump.err")"
log "PASS"

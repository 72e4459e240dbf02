#!/usr/bin/env bash
# Open files whose state could not come back exactly are refused by
# `ckpt dump --kill` in one line naming the fd and why, before killing
# anything, and the process runs on:
#   - SIGIO going to another process (F_SETOWN of the parent's pid: ids
#     mean nothing after restore);
#   - an O_PATH descriptor of a FIFO, and one of a deleted file (carried
#     only for files, directories and devices reopened by path:
#     e2e.state_fd_opath).
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
# refused NAME PATTERN PROGRAM: PROGRAM prints "FD" then waits for a line.
refused() {
  local name=$1 pattern=$2 prog=$3 fd rc
  start "$name" "$PYTHON" -c "$prog"
  wait_lines "$name" 1
  read -r fd <"$WORK/$name.out"
  pattern=${pattern//FD/$fd}
  "$CKPT" dump "$(pid_of "$name")" -o "$WORK/never.ckpt" --kill >"$WORK/dump.out" 2>"$WORK/dump.err"
  rc=$?
  ((rc == 1)) || fail "$name: ckpt dump exited $rc, want 1: $(cat "$WORK/dump.err")"
  [[ $(wc -l <"$WORK/dump.err") == 1 ]] || fail "$name: ckpt dump said more than one line: $(cat "$WORK/dump.err")"
  grep -q "$pattern" "$WORK/dump.err" || fail "$name: ckpt dump did not say '$pattern': $(cat "$WORK/dump.err")"
  [[ ! -e $WORK/never.ckpt ]] || fail "$name: ckpt dump left an image behind"
  send "$name" go
  wait_lines "$name" 2
  close_input "$name"
  wait_exit "$name" 0
  log "$name refused: $(cat "$WORK/dump.err")"
}

refused owner "cannot dump fd FD: its SIGIO goes to process $$, which is not this process" '
import fcntl, os, sys
r, w = os.pipe()
fcntl.fcntl(r, fcntl.F_SETOWN, '$$')
print(r, flush=True)
sys.stdin.readline()
print("still running", flush=True)
'
refused opath_fifo "cannot dump fd FD: O_PATH descriptors are carried only for files, directories and devices that still have their path" '
import os, sys
os.mkfifo("'"$WORK"'/fifo")
p = os.open("'"$WORK"'/fifo", os.O_PATH)
print(p, flush=True)
sys.stdin.readline()
print("still running", flush=True)
'
refused opath_deleted "cannot dump fd FD: O_PATH descriptors are carried only for files, directories and devices that still have their path" '
import os, sys
open("'"$WORK"'/gone", "w").close()
p = os.open("'"$WORK"'/gone", os.O_PATH)
os.unlink("'"$WORK"'/gone")
print(p, flush=True)
sys.stdin.readline()
print("still running", flush=True)
'
log "PASS"

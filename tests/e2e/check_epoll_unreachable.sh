#!/usr/bin/env bash
# An epoll entry whose file no fd of the process holds any more (the
# process closed its fd; a child it forked still holds the file, so the
# entry lives on) cannot be watched again at restore: `ckpt dump --kill`
# refuses it before killing anything, in one line naming the epoll fd and
# the entry, and leaves the process running.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
PROG='
import os, select, sys
r, w = os.pipe()
done_r, done_w = os.pipe()
ep = select.epoll()
ep.register(r, select.EPOLLIN)
child = os.fork()
if child == 0:  # holds r until the parent closes done_w
    os.close(done_w)
    os.read(done_r, 1)
    os._exit(0)
os.close(r)
os.close(done_r)
print(ep.fileno(), r, flush=True)
sys.stdin.readline()
os.write(w, b"x")
print("events", len(ep.poll(5)), flush=True)
os.close(done_w)
os.waitpid(child, 0)
'
start orig "$PYTHON" -c "$PROG"
wait_lines orig 1
read -r epfd rfd <"$WORK/orig.out"
pid=$PID_orig
"$CKPT" dump "$pid" -o "$WORK/never.ckpt" --kill >"$WORK/dump.out" 2>"$WORK/dump.err"
rc=$?
((rc == 1)) || fail "ckpt dump exited $rc, want 1: $(cat "$WORK/dump.err")"
[[ $(wc -l <"$WORK/dump.err") == 1 ]] || fail "ckpt dump said more than one line: $(cat "$WORK/dump.err")"
grep -q "fd $epfd: its epoll entry for fd $rfd watches a file that no fd of the process holds" "$WORK/dump.err" ||
  fail "ckpt dump did not name epoll fd $epfd and its entry for fd $rfd: $(cat "$WORK/dump.err")"
[[ ! -e $WORK/never.ckpt ]] || fail "ckpt dump left an image behind"
state=$(proc_state "$pid")
[[ $state == S || $state == R ]] || fail "the process is in state '$state' after the refused dump"
send orig go
wait_lines orig 2
[[ $(lines "$WORK/orig.out" 2 2) == "events 1" ]] || fail "the untouched process's epoll set changed: $(cat "$WORK/orig.out")"
close_input orig
wait_exit orig 0
log "refused: $(cat "$WORK/dump.err")"
log "PASS"

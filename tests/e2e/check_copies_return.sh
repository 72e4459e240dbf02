#!/usr/bin/env bash
# `ckpt dump --copies-return TID:FD:VALUE` (libckpt's half in the dumper)
# refuses, in one line and with the process left running untouched, what
# it cannot rewrite exactly: malformed values (an fd 0-2, a value of 0), a
# thread the process does not have, and a thread in read() on an fd that is
# not a lone pipe read end whose writer is outside (a pipe with both ends
# inside; a FIFO). Nothing is written in each case. (The case that works
# is e2e.check_libckpt's.)
source "$(dirname "$0")/lib.sh"

# Prints the fd it then waits on in read().
start inpipe /usr/bin/python3 -c 'import os; r, w = os.pipe(); print(r, flush=True); os.read(r, 1)'
mkfifo "$WORK/fifo"
start infifo /usr/bin/python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
print(fd, flush=True)
os.read(fd, 1)' "$WORK/fifo"
wait_lines inpipe 1
wait_lines infifo 1
p=$PID_inpipe
f=$PID_infifo
pfd=$(head -1 "$WORK/inpipe.out")
ffd=$(head -1 "$WORK/infifo.out")
for pid in $p $f; do
  for ((i = 0; i < 2000; ++i)); do [[ $(cut -d' ' -f1 "/proc/$pid/syscall") == 0 ]] && break; sleep 0.01; done
done

refused() {  # PID SPEC WHAT-IT-SAYS
  "$CKPT" dump "$1" -o "$WORK/x.ckpt" --copies-return "$2" >"$WORK/dump.out" 2>"$WORK/dump.err"
  local rc=$?
  ((rc == 1)) || fail "--copies-return $2: exit status $rc, expected 1"
  (($(wc -l <"$WORK/dump.err") == 1)) || fail "--copies-return $2: not one line"
  grep -q -- "$3" "$WORK/dump.err" || fail "--copies-return $2: does not say '$3': $(cat "$WORK/dump.err")"
  [[ -e $WORK/x.ckpt ]] && fail "--copies-return $2: an image was written"
  # Still where it was: in read() on its fd, running, not traced.
  [[ $(cut -d' ' -f1 "/proc/$1/syscall") == 0 ]] || fail "pid $1 left its read after --copies-return $2"
  grep -q '^TracerPid:[[:space:]]*0$' "/proc/$1/status" || fail "pid $1 still traced"
  [[ $(proc_state "$1") == S ]] || fail "pid $1 in state $(proc_state "$1")"
}
refused "$p" "x" "takes TID:FD:VALUE"
refused "$p" "$p:2:5" "an fd above 2"
refused "$p" "$p:$pfd:0" "a value above 0"
refused "$p" "$p:$pfd:5:6" "takes TID:FD:VALUE"
refused "$p" "$f:$pfd:5" "thread $f of pid $p does not exist"
refused "$p" "$p:$pfd:5" "fd $pfd of pid $p is not a lone pipe read end whose writer is outside"
refused "$f" "$f:$ffd:5" "fd $ffd of pid $f is not a lone pipe read end whose writer is outside"
log PASS

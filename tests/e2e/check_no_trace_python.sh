#!/usr/bin/env bash
# No trace of the restorer in a real program: /proc/PID/maps of a python3
# interpreter (dozens of shared objects, a large heap, anonymous arenas) is
# read from outside while it waits in read(2) on stdin, before the dump and
# again after the restore, and must be identical line for line. Reading from
# outside leaves the interpreter's memory alone; the restored process is
# read once it is back in its own read(2) on fd 0, that is, once the restore
# has finished. Then it must still answer, and hold only fds 0, 1 and 2.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
# Prints "ready", then for each line its length and a running digest.
PROG='
import sys, hashlib, json
state = {"lines": 0, "digest": hashlib.sha256()}
print("ready", flush=True)
for line in sys.stdin:
    state["lines"] += 1
    state["digest"].update(line.encode())
    print(state["lines"], len(line), state["digest"].hexdigest()[:16], flush=True)
'

# wait_in_stdin_read NAME: waits until NAME is blocked in read(2) on fd 0
# (/proc/PID/syscall starts with "0 0x0 ").
wait_in_stdin_read() {
  local pid i call=''
  pid=$(pid_of "$1")
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    call=$(cat "/proc/$pid/syscall" 2>/dev/null)
    [[ $call == "0 0x0 "* ]] && return 0
    sleep 0.05
  done
  fail "$1 (pid $pid) is not waiting in read(0, ...) after ${WAIT_SECONDS}s: syscall '$call'"
}

start ref "$PYTHON" -u -c "$PROG"
wait_lines ref 1
send ref one two three
wait_lines ref 4
close_input ref
wait_exit ref 0

start run "$PYTHON" -u -c "$PROG"
wait_lines run 1
send run one
wait_lines run 2
wait_in_stdin_read run
cat "/proc/$PID_run/maps" >"$WORK/maps-before"
dump run "$WORK/python.ckpt"

restore_start back "$WORK/python.ckpt"
wait_in_stdin_read back
cat "/proc/$PID_back/maps" >"$WORK/maps-after"
check_std_fds back
send back two three
wait_lines back 2
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restored python3"

expect_same "/proc/PID/maps of the restored python3" "$WORK/maps-before" "$WORK/maps-after"
lines "$WORK/ref.out" 3 4 >"$WORK/expected-after"
expect_same "answers after the restore" "$WORK/expected-after" "$WORK/back.out"
log "PASS maps identical ($(wc -l <"$WORK/maps-before") lines)"

#!/usr/bin/env bash
# Real programs restored with --pid-ns keep every pid they know:
#   - bash reading commands from a pipe, with a background job (sleep): a
#     tree of two. After restore, $$ and $BASHPID are the saved pid, $! the
#     sleep's saved pid, which is alive (kill -0, /proc/$!/comm), is
#     killed by bash's own `kill $!` and reaped by `wait $!` (status 143);
#   - python3: os.getpid(), /proc/self and the pid it stored at start
#     agree after restore.
source "$(dirname "$0")/lib.sh"

_spawn sh /bin/bash --norc --noprofile
send sh 'sleep 1000 & echo started $! $$'
wait_lines sh 1
read -r _ S P <"$WORK/sh.out"
[[ $P == "$PID_sh" ]] || fail "bash says \$\$ $P, the shell started $PID_sh"
dump sh "$WORK/bash.ckpt"
_spawn back "$RESTORE" --pid-ns "$WORK/bash.ckpt"
send back 'echo ids $$ $BASHPID $!' 'kill -0 $! && echo alive $(cat /proc/$!/comm)' 'kill $!; wait $!; echo waited $?'
wait_lines back 3
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restore --pid-ns of bash"
[[ $(lines "$WORK/back.out" 1 1) == "ids $P $P $S" ]] ||
  fail "bash after restore: '$(lines "$WORK/back.out" 1 1)', expected 'ids $P $P $S' (\$\$ \$BASHPID \$!)"
[[ $(lines "$WORK/back.out" 2 2) == "alive sleep" ]] || fail "its background job: '$(lines "$WORK/back.out" 2 2)'"
[[ $(lines "$WORK/back.out" 3 3) == "waited 143" ]] || fail "kill and wait of its job: '$(lines "$WORK/back.out" 3 3)'"
log "bash: \$\$ = \$BASHPID = $P, its job $S alive, killed and reaped (143)"

command -v python3 >/dev/null || fail "python3 is missing (.ci/deps installs it)"
_spawn py python3 -u -c '
import os, sys
p = os.getpid()
print("ready", p)
sys.stdin.readline()
print("pid", os.getpid(), os.readlink("/proc/self"), p, os.getppid())'
wait_lines py 1
read -r _ Q <"$WORK/py.out"
dump py "$WORK/py.ckpt"
_spawn pyback "$RESTORE" --pid-ns "$WORK/py.ckpt"
send pyback go
close_input pyback
wait_exit pyback 0
check_quiet "$WORK/pyback.err" "restore --pid-ns of python3"
[[ $(cat "$WORK/pyback.out") == "pid $Q $Q $Q 1" ]] ||
  fail "python3 after restore: '$(cat "$WORK/pyback.out")', expected 'pid $Q $Q $Q 1' (getpid, /proc/self, stored, getppid)"
log "python3: os.getpid() = /proc/self = $Q, parent restore's init"

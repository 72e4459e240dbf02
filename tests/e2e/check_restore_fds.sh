#!/usr/bin/env bash
# A restored process holds exactly the fds its image saved: nothing that
# `restore`'s caller left open (beyond fds 0-2, which are restore's by the
# documented rule) may reach it. `restore` is started here with fds 4, 7,
# 9 and 200 open, as a shell script or a service manager may leave them;
# afterwards every restored process must have the fd numbers it had at the
# dump, no more, each on its saved file: a single process (python3 holding
# files on fds 3, 4 and 12: restore's caller holds 4 too, on another file)
# and a tree (bash with a job), each in a plain restore and with --pid-ns.
source "$(dirname "$0")/lib.sh"

# fd_list PID: "NAME: FD=WHAT ..." of PID and of each descendant, depth
# first, children in the order of their saved (NSpid) ids, one line each;
# WHAT is the file's path, or its kind for a pipe or socket (whose inode
# numbers are new after a restore); fds 0-2 by number only.
fd_list() {
  local p=$1 c kids fd what line=""
  for fd in $(ls "/proc/$p/fd" | sort -n); do
    what=$(readlink "/proc/$p/fd/$fd")
    what=${what%%:\[*}
    ((fd > 2)) || what="restore's"  # the test's files for the original, the restore's after
    line+="$fd=$what "
  done
  printf '%s: %s\n' "$(cat "/proc/$p/comm")" "$line"
  kids=$(cat /proc/"$p"/task/*/children 2>/dev/null)
  for c in $(for c in $kids; do echo "$(awk '/^NSpid:/ {print $NF}' "/proc/$c/status") $c"; done | sort -n | cut -d' ' -f2); do
    fd_list "$c"
  done
}

# wait_child PID COMM: until PID has a child whose command is COMM (a
# forked bash has exec'd it).
wait_child() {
  local i c
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
      [[ $(cat "/proc/$c/comm" 2>/dev/null) == "$2" ]] && return 0
    done
    sleep 0.05
  done
  fail "pid $1 has no child running $2 after ${WAIT_SECONDS}s"
}

# case_of NAME CHILD FLAGS CMD...: starts CMD, which prints "ready" once
# set up (and has a child running CHILD, unless CHILD is "-"), records its
# processes' fds, dumps it, restores it with FLAGS from a process holding
# fds 4, 7, 9 and 200, and compares.
case_of() {
  local name=$1 child=$2 flags=$3; shift 3
  start "$name" "$@"
  wait_lines "$name" 1
  [[ $child == - ]] || wait_child "$(pid_of "$name")" "$child"
  fd_list "$(pid_of "$name")" >"$WORK/$name.want"
  dump "$name" "$WORK/$name.ckpt"
  RESTORE_FLAGS=$flags restore_start "back$name" "$WORK/$name.ckpt"
  local root i
  root=$(RESTORE_FLAGS=$flags restored_pid "back$name")
  # Until every restored process has passed its trampoline, which closes
  # what it does not keep (the launchers' fds are a superset before).
  for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
    fd_list "$root" >"$WORK/$name.got" 2>/dev/null
    cmp -s "$WORK/$name.want" "$WORK/$name.got" && break
    sleep 0.1
  done
  expect_same "fds of the restored processes ($name: restore $flags with fds 4 7 9 200 open)" "$WORK/$name.want" "$WORK/$name.got"
  # A restored child outlives its bash when the test ends (not under
  # --pid-ns, whose namespace ends with restore): killed with the test.
  for c in $(cat /proc/"$root"/task/*/children 2>/dev/null); do _PIDS[${name}_child_$c]=$c; done
  check_quiet "$WORK/back$name.err" "restore $flags ($name)"
  log "$name, restore $flags: $(tr '\n' ';' <"$WORK/$name.got")"
}

# lib.sh's _spawn closes every fd above 2 before it runs a command: this
# restore_start opens 4, 7, 9 and 200 again in the process that then execs
# restore.
restore_start() {
  _spawn "$1" bash -c 'exec 4</dev/null 7</dev/null 9>"$1" 200<"$2"; shift 2; exec "$@"' bash "$WORK/nine" "$2" \
    "$RESTORE" ${RESTORE_FLAGS:-} "$2"
}

HOLDER='
import os, sys
os.open("/etc/passwd", os.O_RDONLY)    # 3
os.open("/etc/hostname", os.O_RDONLY)  # 4
os.dup2(3, 12)
print("ready", flush=True)
sys.stdin.readline()
'
case_of single - "" python3 -c "$HOLDER"
case_of single_ns - --pid-ns python3 -c "$HOLDER"
case_of tree sleep "" bash -c 'sleep 1000 & echo ready; wait'
case_of tree_ns sleep --pid-ns bash -c 'sleep 1000 & echo ready; wait'

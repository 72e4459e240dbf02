#!/usr/bin/env bash
# restore's exit status is the restored program's, as its parent (a shell)
# sees it with waitpid: without --pid-ns restore becomes the program, so
# an exit code and a death by a signal are the program's own; with --pid-ns
# the outer restore ends the same way (tests/e2e/check_pid_ns.sh covers
# that mode further). wait_status tells "exit N" from "signal N", which a
# shell's $? (128 + N for both) cannot.
source "$(dirname "$0")/lib.sh"
ulimit -c 0

ws=$PROGRAMS/wait_status
img=$WORK/ids.ckpt
start orig "$PROGRAMS/pidns_ids"
wait_lines orig 1
dump orig "$img"

# ends NAME "COMMAND" EXPECTED [RESTORE OPTIONS...]
ends() {
  local name=$1 cmd=$2 want=$3; shift 3
  _spawn "$name" "$ws" "$WORK/$name.status" "$RESTORE" "$@" "$img"
  send "$name" "$cmd"
  close_input "$name"
  wait_exit "$name" 0
  [[ $(cat "$WORK/$name.status") == "$want" ]] ||
    fail "restore $* with '$cmd' ended with '$(cat "$WORK/$name.status")', expected '$want'"
  check_quiet "$WORK/$name.err" "restore $*"
  log "restore $* '$cmd': $want"
}
ends code "exit 7" "exit 7"
ends code0 "ids" "exit 0"
ends usr1 "die 10" "signal 10"
ends term "die 15" "signal 15"
ends segv "die 11" "signal 11"
ends ns_code "exit 9" "exit 9" --pid-ns
ends ns_usr2 "die 12" "signal 12" --pid-ns
ends ns_term "die 15" "signal 15" --pid-ns

# The same through `ckpt run IMAGE --pid-ns`, which executes restore.
export PATH="$(dirname "$RESTORE"):$PATH"  # ckpt run finds restore on PATH in a build tree
_spawn run_ns "$ws" "$WORK/run_ns.status" "$CKPT" run "$img" --pid-ns
send run_ns "ids" "die 10"
close_input run_ns
wait_exit run_ns 0
grep -q "^ids pid=$PID_orig " "$WORK/run_ns.out" || fail "ckpt run --pid-ns: $(grep '^ids' "$WORK/run_ns.out"), expected the saved pid $PID_orig"
[[ $(cat "$WORK/run_ns.status") == "signal 10" ]] || fail "ckpt run --pid-ns ended with '$(cat "$WORK/run_ns.status")', expected 'signal 10'"
log "ckpt run --pid-ns: pid $PID_orig, SIGUSR1 passed out"

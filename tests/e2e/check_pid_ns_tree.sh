#!/usr/bin/env bash
# restore --pid-ns of a process tree (bash fed through a pipe, with two
# background jobs): every member, the root included, gets its saved pid
# inside the new namespace (clone3 set_tid there), so copies of one tree run
# side by side. A plain restore holds the tree's saved pids on the host: a
# second plain restore is refused (a pid is taken), while two --pid-ns
# copies run beside it, each root with the saved root pid (NSpid), each
# bash answering $$, $BASHPID and `jobs -p` with the saved pids, and
# killing and reaping its jobs by them. (e2e.pidns.state_tree runs the
# tree's own state test in the mode.)
source "$(dirname "$0")/lib.sh"

_spawn sh /bin/bash --norc --noprofile
send sh 'sleep 1000 & sleep 2000 & echo started $$ $(jobs -p)'
wait_lines sh 1
read -r _ P J1 J2 <"$WORK/sh.out"
[[ $P == "$PID_sh" && -n $J2 ]] || fail "bash said '$(cat "$WORK/sh.out")', started as $PID_sh"
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  (($(wc -w <"/proc/$PID_sh/task/$PID_sh/children") == 2)) && break
  sleep 0.05
done
dump sh "$WORK/tree.ckpt"

_spawn plain "$RESTORE" "$WORK/tree.ckpt"
send plain 'echo plain $(jobs -p)'
wait_lines plain 1
[[ $(cat "$WORK/plain.out") == "plain $J1 $J2" ]] || fail "the plain restore: '$(cat "$WORK/plain.out")'"
_PIDS[plain_j1]=$J1 _PIDS[plain_j2]=$J2  # killed with the test: they outlive their bash otherwise
"$RESTORE" "$WORK/tree.ckpt" </dev/null >"$WORK/second.out" 2>"$WORK/second.err"
rc=$?
((rc == 1)) && grep -q 'is taken by another process' "$WORK/second.err" ||
  fail "a second plain restore beside the first: exit $rc, $(cat "$WORK/second.err")"
log "second plain restore refused: $(cat "$WORK/second.err")"
"$RESTORE" --check --pid-ns "$WORK/tree.ckpt" >"$WORK/check.out" 2>"$WORK/check.err" ||
  fail "restore --check --pid-ns beside the plain copy: exit $?, $(cat "$WORK/check.err")"
grep -q 'can be restored here (3 processes)' "$WORK/check.out" || fail "restore --check --pid-ns said: $(cat "$WORK/check.out")"

for n in a b; do
  _spawn "$n" "$RESTORE" --pid-ns "$WORK/tree.ckpt"
  send "$n" 'echo ids $$ $BASHPID $(jobs -p)'
done
for n in a b; do
  wait_lines "$n" 1
  [[ $(lines "$WORK/$n.out" 1 1) == "ids $P $P $J1 $J2" ]] ||
    fail "restore --pid-ns ($n): '$(lines "$WORK/$n.out" 1 1)', expected 'ids $P $P $J1 $J2'"
  root=$(RESTORE_FLAGS=--pid-ns restored_pid "$n")
  nspid=$(awk '/^NSpid:/ {print $3}' "/proc/$root/status")
  [[ $nspid == "$P" ]] || fail "restore --pid-ns ($n): its root has NSpid '$(grep NSpid "/proc/$root/status")', expected the saved $P"
  kids=$(cat "/proc/$root/task/$root/children")
  inner=$(for k in $kids; do awk '/^NSpid:/ {print $3}' "/proc/$k/status"; done | sort -n | tr '\n' ' ')
  [[ $inner == "$(printf '%s\n' "$J1" "$J2" | sort -n | tr '\n' ' ')" ]] ||
    fail "restore --pid-ns ($n): its children have the ids '$inner' inside, expected $J1 $J2"
done
for n in a b; do
  send "$n" "kill $J1 $J2; wait $J1; echo first \$?; wait $J2; echo second \$?"
  close_input "$n"
  wait_exit "$n" 0
  [[ $(lines "$WORK/$n.out" 2 3 | tr '\n' ' ') == "first 143 second 143 " ]] ||
    fail "restore --pid-ns ($n): kill and wait of its jobs: $(lines "$WORK/$n.out" 2 3 | tr '\n' ' ')"
  check_quiet "$WORK/$n.err" "restore --pid-ns ($n)"
done
log "two --pid-ns copies beside the plain one: bash $P with jobs $J1 $J2 in each, killed and reaped"
close_input plain
wait_exit plain 0

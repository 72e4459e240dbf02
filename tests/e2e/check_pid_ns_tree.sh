#!/usr/bin/env bash
# restore --pid-ns of a process tree (tests/programs/state_tree.c: running
# children, zombies, groups, a session, pipes, a subreaper): every member,
# the root included, gets its saved pid inside the new namespace (clone3
# set_tid there), so copies of one tree run side by side. A plain restore
# holds the tree's saved pids on the host: a second plain restore is
# refused (a pid is taken), while two --pid-ns copies run beside it, each
# passing the program's checks, each root with the saved root pid.
source "$(dirname "$0")/lib.sh"
prog=state_tree

start orig "$PROGRAMS/$prog"
wait_lines orig 1
P=$PID_orig
dump orig "$WORK/tree.ckpt"

_spawn plain "$RESTORE" "$WORK/tree.ckpt"
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  [[ $(cat "/proc/$PID_plain/task/$PID_plain/children" 2>/dev/null) == *[0-9]* ]] &&
    [[ $(readlink "/proc/$PID_plain/exe") == *"$prog"* ]] && break
  sleep 0.05
done
[[ $(readlink "/proc/$PID_plain/exe") == *"$prog"* ]] || fail "the plain restore did not become $prog: $(cat "$WORK/plain.err")"
"$RESTORE" "$WORK/tree.ckpt" </dev/null >"$WORK/second.out" 2>"$WORK/second.err"
rc=$?
((rc == 1)) && grep -q 'is taken by another process' "$WORK/second.err" ||
  fail "a second plain restore beside the first: exit $rc, $(cat "$WORK/second.err")"
log "second plain restore refused: $(cat "$WORK/second.err")"

for n in a b; do
  _spawn "$n" "$RESTORE" --pid-ns "$WORK/tree.ckpt"
done
# The root of each copy: the only child of the outer restore's only child
# (restore's init), with NSpid "HOSTPID P" once it runs the program.
for n in a b; do
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    init=$(cat "/proc/$(pid_of "$n")/task/$(pid_of "$n")/children" 2>/dev/null)
    init=${init%% *}
    root=$( [[ -n $init ]] && cat "/proc/$init/task/$init/children" 2>/dev/null)
    root=${root%% *}
    [[ -n $root && $(readlink "/proc/$root/exe" 2>/dev/null) == *"$prog"* ]] && break
    sleep 0.05
  done
  nspid=$(awk '/^NSpid:/ {print $3}' "/proc/$root/status" 2>/dev/null)
  [[ $nspid == "$P" ]] || fail "restore --pid-ns ($n): its root has NSpid '$(grep NSpid "/proc/$root/status" 2>&1)', expected the saved $P"
done
for n in a b; do
  send "$n" check
  close_input "$n"
  wait_exit "$n" any
  grep -q '^PASS' "$WORK/$n.out" && ((EXIT_STATUS == 0)) ||
    fail "restore --pid-ns ($n) of the tree did not PASS (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/$n.out" | head -n 5) $(cat "$WORK/$n.err")"
  check_quiet "$WORK/$n.err" "restore --pid-ns ($n)"
done
log "two --pid-ns copies beside the plain one: $(grep '^PASS' "$WORK/a.out")"
send plain check
close_input plain
wait_exit plain any
grep -q '^PASS' "$WORK/plain.out" || fail "the plain restore did not PASS: $(grep -v '^ready' "$WORK/plain.out" | head -n 5)"

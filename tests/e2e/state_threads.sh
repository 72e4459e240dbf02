#!/usr/bin/env bash
# state_threads (tests/programs/state_threads.c) under the state.sh protocol,
# for 2, 8 and 31 workers: three dumps with --kill and three restores.
# Beyond the program's own PASS, checked from outside:
#   - every thread is asleep (futex, nanosleep, read) when dumped, so each
#     is caught inside a system call it must go on with after restore;
#   - after restore, before "check", /proc/PID/task holds exactly the
#     workers + 5 threads the program had, and every thread's name (comm)
#     is back: "state_threads" for the leader, w0..w<N-1>, condvar,
#     sleeper, detached, guard;
#   - the --fresh run (8 workers) FAILs, so the program's check can fail.
# Usage: state_threads.sh [PROGRAM] (CTest passes the program's name).
source "$(dirname "$0")/lib.sh"
prog=${1:-state_threads}
TEST_NAME=$prog
OTHERS=5  # main, condvar, sleeper, detached, guard (see the program)

wait_ready() {
  wait_lines "$1" 1
  head -n 1 "$WORK/$1.out" | grep -q '^ready' || fail "$1 did not print 'ready' first"
}

# The thread names NAME's process should have, sorted, one a line.
expected_comms() {
  local n=$1 i
  { printf '%s\n' "$prog" condvar sleeper detached guard
    for ((i = 0; i < n; i++)); do printf 'w%d\n' "$i"; done; } | sort
}

task_comms() { cat /proc/"$1"/task/*/comm 2>/dev/null | sort; }

# all_asleep PID: every thread of PID is in state S (inside a blocking call).
all_asleep() {
  local f stat
  for f in /proc/"$1"/task/*/stat; do
    stat=$(cat "$f" 2>/dev/null) || return 1
    stat=${stat##*) }
    [[ ${stat%% *} == S ]] || return 1
  done
}

start fresh "$PROGRAMS/$prog" --fresh 8
wait_ready fresh
send fresh check
close_input fresh
wait_exit fresh any
((EXIT_STATUS != 0)) && grep -q '^FAIL' "$WORK/fresh.out" ||
  fail "$prog --fresh did not FAIL its check (status $EXIT_STATUS): the check cannot tell"

for n in 2 8 31; do
  name=orig$n back=back$n want=$((n + OTHERS))
  start "$name" "$PROGRAMS/$prog" "$n"
  wait_ready "$name"
  pid=$(pid_of "$name")
  # Generous: with two cores shared by a parallel test run, 36 threads can
  # take a while to settle.
  for ((i = 0; i < 400; i++)); do
    all_asleep "$pid" && break
    sleep 0.05
  done
  all_asleep "$pid" || fail "$name: not every thread asleep 20 s after ready: $(grep -h State /proc/"$pid"/task/*/status | sort | uniq -c | tr '\n' ' ')"
  tasks=$(ls /proc/"$pid"/task | wc -l)
  ((tasks == want)) || fail "$name has $tasks threads before the dump, expected $want"
  expected_comms "$n" >"$WORK/comms-$n.expected"

  ls /proc/"$pid"/task | sort -n >"$WORK/tids-$n.before"
  t0=$(now_ms)
  dump "$name" "$WORK/$prog-$n.ckpt"
  t1=$(now_ms)
  restore_start "$back" "$WORK/$prog-$n.ckpt"
  rpid=$(restored_pid "$back")
  # restore becomes the program: wait (bounded) until its threads are all back.
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    task_comms "$rpid" >"$WORK/comms-$n.restored"
    cmp -s "$WORK/comms-$n.expected" "$WORK/comms-$n.restored" && break
    [[ $(proc_state "$rpid") == gone || $(proc_state "$rpid") == Z ]] && break
    sleep 0.05
  done
  t2=$(now_ms)
  tasks=$(ls /proc/"$rpid"/task 2>/dev/null | wc -l)
  ((tasks == want)) || fail "restored $prog ($n workers, pid $rpid) has $tasks threads, expected $want"
  expect_same "thread names after restoring $n workers" "$WORK/comms-$n.expected" "$WORK/comms-$n.restored"
  if [[ ${RESTORE_FLAGS:-} == *--pid-ns* ]]; then
    # Every thread has its saved id inside the namespace (NSpid's last field).
    for f in /proc/"$rpid"/task/*/status; do awk '/^NSpid:/ {print $NF}' "$f"; done | sort -n >"$WORK/tids-$n.after"
    expect_same "thread ids inside the pid namespace after restoring $n workers" "$WORK/tids-$n.before" "$WORK/tids-$n.after"
  fi

  send "$back" check
  close_input "$back"
  wait_exit "$back" any
  grep -q '^PASS' "$WORK/$back.out" && ((EXIT_STATUS == 0)) ||
    fail "restored $prog with $n workers did not PASS (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/$back.out" | head -n 5)"
  check_quiet "$WORK/$back.err" "restored $prog ($n workers)"
  log "$n workers ($want threads): dump $((t1 - t0)) ms, restore until all threads back $((t2 - t1)) ms, image $(image_bytes "$WORK/$prog-$n.ckpt") bytes"
  log "$(grep '^PASS' "$WORK/$back.out" | head -n 1)"
done

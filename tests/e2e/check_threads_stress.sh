#!/usr/bin/env bash
# Stress: one running multi-threaded process (state_threads_busy, 8 threads
# that never stop computing, taking a shared mutex and napping) is dumped
# 20 times in a row WITHOUT --kill, at uneven moments, so threads are caught
# mid-computation, in the mutex and in nanosleep. Checked:
#   - after every dump every thread of the original is running or asleep
#     again (none left stopped or traced);
#   - every image restores once, as an independent copy, with all its
#     threads (/proc/PID/task), and that copy PASSes its check (every thread
#     moves on and its sums, double, mask and tid are right) and exits 0;
#   - the original, after all 20 dumps, still PASSes its check.
# Then, once each, the same with 31 threads (and with the counts in
# STRESS_EXTRA_THREADS, default "31"; 200 is worth a try by hand).
# Prints the median dump and restore times for 8 threads and the times of
# the one-off runs. Takes 20-40 s on 2 CPUs. (200 threads, by hand: dump
# 2.8 s, restore 11.8 s, slowed by the original's 200 threads competing for
# the CPUs; with --kill 1.8 s and 2.1 s.)
source "$(dirname "$0")/lib.sh"

PROG=state_threads_busy
ROUNDS=20
THREADS=8
EXTRA=${STRESS_EXTRA_THREADS:-31}

# not_stopped NAME: no thread of NAME is stopped or traced.
not_stopped() {
  local pid f stat state tracer
  pid=$(pid_of "$1")
  for f in /proc/"$pid"/task/*; do
    stat=$(cat "$f/stat" 2>/dev/null) || continue
    stat=${stat##*) }
    state=${stat%% *}
    tracer=$(awk '/^TracerPid:/ {print $2}' "$f/status" 2>/dev/null)
    [[ $state == [RSD] && ${tracer:-0} == 0 ]] ||
      fail "$1 thread ${f##*/} is in state '$state', traced by '${tracer:-?}' after a dump without --kill"
  done
}

# wait_threads NAME WANT: waits (bounded) until NAME has WANT threads.
wait_threads() {
  local pid i n=0
  pid=$(pid_of "$1")
  for ((i = 0; i < WAIT_SECONDS * 100; i++)); do
    n=$(ls /proc/"$pid"/task 2>/dev/null | wc -l)
    ((n == $2)) && return 0
    [[ $(proc_state "$pid") == gone || $(proc_state "$pid") == Z ]] && break
    sleep 0.01
  done
  fail "$1 (pid $pid) has $n threads, expected $2"
}

# check_pass NAME WHAT: sends NAME "check"; it must PASS and exit 0.
check_pass() {
  send "$1" check
  close_input "$1"
  wait_exit "$1" any
  grep -q '^PASS' "$WORK/$1.out" && ((EXIT_STATUS == 0)) ||
    fail "$2 did not PASS (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/$1.out" | head -n 5)"
  check_quiet "$WORK/$1.err" "$2"
}

# restore_copy NAME IMAGE THREADS: restores IMAGE as NAME, waits for all its
# threads and sets RESTORE_MS (restore start until every thread exists).
restore_copy() {
  local t0
  t0=$(now_ms)
  restore_start "$1" "$2"
  wait_threads "$1" $(($3 + 1))
  RESTORE_MS=$(($(now_ms) - t0))
}

median() { sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

began=$(now_ms)
start live "$PROGRAMS/$PROG" "$THREADS"
wait_lines live 1
wait_threads live $((THREADS + 1))
: >"$WORK/dump-ms" ; : >"$WORK/restore-ms"
for ((r = 1; r <= ROUNDS; r++)); do
  sleep "0.0$((RANDOM % 10))"  # uneven moments
  t0=$(now_ms)
  dump_live live "$WORK/round.ckpt"
  echo $(($(now_ms) - t0)) >>"$WORK/dump-ms"
  not_stopped live
  restore_copy "copy$r" "$WORK/round.ckpt" "$THREADS"
  echo "$RESTORE_MS" >>"$WORK/restore-ms"
  check_pass "copy$r" "restored copy $r of $ROUNDS"
  rm -f "$WORK/round.ckpt" "$WORK/copy$r".*
done
check_pass live "the original after $ROUNDS dumps"
log "$ROUNDS live dumps of $THREADS threads, each restored once: all PASS, and the original too ($(($(now_ms) - began)) ms in all)"
log "$THREADS threads: median dump $(median <"$WORK/dump-ms") ms, median restore $(median <"$WORK/restore-ms") ms (max $(sort -n "$WORK/dump-ms" | tail -n 1) / $(sort -n "$WORK/restore-ms" | tail -n 1) ms)"

for n in $EXTRA; do
  start "big$n" "$PROGRAMS/$PROG" "$n"
  wait_lines "big$n" 1
  wait_threads "big$n" $((n + 1))
  t0=$(now_ms)
  dump_live "big$n" "$WORK/big$n.ckpt"
  dump_ms=$(($(now_ms) - t0))
  not_stopped "big$n"
  restore_copy "bigcopy$n" "$WORK/big$n.ckpt" "$n"
  check_pass "bigcopy$n" "restored copy of $n threads"
  check_pass "big$n" "the original of $n threads after its dump"
  log "$n threads: dump $dump_ms ms, restore $RESTORE_MS ms, image $(image_bytes "$WORK/big$n.ckpt") bytes"
  rm -f "$WORK/big$n.ckpt"
done

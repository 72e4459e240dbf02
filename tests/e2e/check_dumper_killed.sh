#!/usr/bin/env bash
# Killing `ckpt dump` at any moment never kills or changes the process it
# dumps, including while a system call is injected into it.
#
# The kill points are deterministic: ckpt's test-only fault points
# (x86/FaultPoint.h: CKPT_FAULT=kill CKPT_FAULT_AT=N raises SIGKILL in ckpt
# at the Nth point reached: each thread seized and stopped, each injected
# call's register set-up, signal blocking, syscall entry and exit stops,
# each step of putting the thread back, each detach, each dump phase). A
# traced dump (CKPT_FAULT=trace) lists the points first; then ckpt is killed
# at every point up to the first calls, at every 7th point after, and at
# every one of the last 25 (putting back and detaching): at least 50.
#
# The target, tests/programs/dump_target, keeps running the whole time and
# after each kill checks from inside that nothing changed: signal masks,
# pending signals (a blocked pending SIGTRAP among them), all 64 signal
# actions, the alternate stack, 4 MiB of memory, /proc/self/maps, the
# registers of a thread busy in a loop of assembly (rbx, rdx, r8-r10,
# r12-r15, xmm0-15), and a thread blocked in read(). At the end it takes
# every pending signal back with its siginfo. Then a thread inside an rseq
# critical section must still leave it only through its abort handler.
source "$(dirname "$0")/lib.sh"

# checked WHAT: one "check N" round trip with the target (lib.sh).
checked() { target_check t "$1"; }

# untraced: the dead dumper's ptrace is gone and the target is running.
untraced() {
  local pid=$PID_t i state
  for ((i = 0; i < 200; i++)); do
    [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status" 2>/dev/null) == 0 ]] && break
    sleep 0.01
  done
  # A kill during a batch of injected calls: the thread finishes it and
  # unmaps its area once it sees the dumper gone (moments after the
  # ptrace link is), so the maps are given a moment to be as they were.
  for ((i = 0; i < 200; i++)); do
    [[ $(<"/proc/$pid/maps") == "$(<"$WORK/maps.before")" ]] && break
    sleep 0.01
  done
  state=$(proc_state "$pid")
  [[ $state == S || $state == R ]] || fail "$1: the target (pid $pid) is in state '$state'"
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status") == 0 ]] || fail "$1: the target is still traced"
}

start t "$PROGRAMS/dump_target"
wait_lines t 1
checked "before any dump"
cat "/proc/$PID_t/maps" >"$WORK/maps.before"

CKPT_FAULT=trace "$CKPT" dump "$PID_t" -o "$WORK/trace.ckpt" >/dev/null 2>"$WORK/trace.err" ||
  fail "a traced dump failed: $(grep -v '^ckpt fault point' "$WORK/trace.err" | head -n 3)"
rm -f "$WORK/trace.ckpt"
grep '^ckpt fault point' "$WORK/trace.err" | sed 's/^ckpt fault point \([0-9]*\): /\1 /' >"$WORK/points"
total=$(wc -l <"$WORK/points")
grep -q 'inject: safety frame written' "$WORK/points" ||
  fail "the dump injected its calls without the safety frame (no 'syscall; ret' or rt_sigreturn code found?)"
first_call=$(awk '/inject: at the system call.s entry/ {print $1; exit}' "$WORK/points")
((total > 60 && first_call > 0)) || fail "only $total fault points traced"
# The signal actions and the other getters run as one batch of injected
# calls (x86/InjectedBatch.h): a kill while its code runs, or once it is
# done and waits, must leave the thread to finish and go back by itself.
grep -q 'inject: batch set up' "$WORK/points" && grep -q 'inject: batch done' "$WORK/points" ||
  fail "the dump injected no batch of calls"
checked "after a traced dump"

points=()
for ((n = 1; n <= total; n++)); do
  ((total <= 160 || n <= first_call + 8 || n % 7 == 0 || n > total - 25)) && points+=("$n")
done
((${#points[@]} >= 50)) || fail "only ${#points[@]} kill points"
log "$total fault points in a dump; killing ckpt at ${#points[@]} of them"

declare -A kinds=()
for n in "${points[@]}"; do
  what=$(awk -v n="$n" '$1 == n {$1 = ""; print substr($0, 2)}' "$WORK/points")
  (CKPT_FAULT=kill CKPT_FAULT_AT=$n "$CKPT" dump "$PID_t" -o "$WORK/k.ckpt" >/dev/null 2>"$WORK/k.err"
   echo $? >"$WORK/k.rc") 2>/dev/null
  rc=$(cat "$WORK/k.rc")
  ((rc == 137)) || fail "point $n ($what): ckpt exited $rc instead of being killed: $(head -n 2 "$WORK/k.err")"
  untraced "killed at point $n ($what)"
  checked "killed at point $n ($what)"
  rm -f "$WORK"/k.ckpt*
  kinds[$what]=$((${kinds[$what]:-0} + 1))
done
for what in "${!kinds[@]}"; do log "  killed ${kinds[$what]}x at: $what"; done

# Still dumpable, and whole at the end.
dump_live t "$WORK/after.ckpt"
checked "after a complete dump"
send t final
close_input t
wait_exit t 0
grep -q '^PASS' "$WORK/t.out" || fail "the target's final check did not pass"
log "ckpt killed at ${#points[@]} points of a dump; $(grep '^PASS' "$WORK/t.out")"

# A thread inside an rseq critical section (tests/programs/state_rseq_cs)
# must leave it through its abort handler, as after any preemption, also
# when ckpt dies while its registers are the injection's: the first return
# to user space from an injected call clears rseq_cs, so resuming at the
# saved rip would run on inside the section unprotected. Each kill is
# followed by more than the section's own deadline (about 1 s), so that a
# thread left inside would be seen there before the next dump aborts it.
start r "$PROGRAMS/state_rseq_cs"
wait_lines r 1
CKPT_FAULT=trace "$CKPT" dump "$PID_r" -o "$WORK/rtrace.ckpt" >/dev/null 2>"$WORK/rtrace.err" ||
  fail "a traced dump of state_rseq_cs failed: $(grep -v '^ckpt fault point' "$WORK/rtrace.err" | head -n 3)"
rm -f "$WORK/rtrace.ckpt"
mapfile -t rpoints < <(awk -F'[ :]+' '/inject: registers set/ && ++n <= 2 {print $4} /inject: batch (set up|done)/ {print $4}' "$WORK/rtrace.err")
((${#rpoints[@]} == 4)) || fail "no injection points in a dump of state_rseq_cs: ${rpoints[*]}"
for n in "${rpoints[@]}"; do
  (CKPT_FAULT=kill CKPT_FAULT_AT=$n "$CKPT" dump "$PID_r" -o "$WORK/k.ckpt" >/dev/null 2>&1
   echo $? >"$WORK/k.rc") 2>/dev/null
  [[ $(cat "$WORK/k.rc") == 137 ]] || fail "state_rseq_cs: ckpt was not killed at point $n"
  rm -f "$WORK"/k.ckpt*
  sleep 1.5  # past the section's deadline: see above
done
send r check
close_input r
wait_exit r any
grep -q '^PASS' "$WORK/r.out" && ((EXIT_STATUS == 0)) ||
  fail "state_rseq_cs after ckpt was killed mid-injection: $(grep -v '^ready' "$WORK/r.out" | head -n 3)"
log "PASS; state_rseq_cs, ckpt killed at ${#rpoints[@]} injection points: $(grep '^PASS' "$WORK/r.out")"

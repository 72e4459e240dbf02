#!/usr/bin/env bash
# restore --pid-ns: every pid is the saved one, in a pid namespace of the
# restore's own, so one image runs any number of times side by side.
#
# A program that recorded getpid(), gettid() (its own and two threads'),
# /proc/self, /proc/self/status and /proc/PID before the dump is dumped while it keeps running (its pid P
# stays taken on the host). Then:
#   - a plain restore gets another pid: the program's check FAILs (which
#     proves the check can tell);
#   - two restores with --pid-ns run at once, beside the original: each
#     finds every id as before (PASS), getppid() is 1 (restore's init), and
#     each is in a pid namespace of its own (/proc/self/ns/pid), where the
#     host sees it as NSpid "HOSTPID P";
#   - SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGCONT,
#     SIGWINCH and SIGRTMIN+2 sent to the outer restore reach the program,
#     whose handler runs once for each (the sender it sees is pid 1, the
#     namespace's init);
#   - the program's exit code (7), and its death by SIGUSR1, are how the
#     outer restore ends, as its parent sees it (wait_status);
#   - the same with --lazy (the page server started inside the namespace),
#     dying of SIGSEGV: no core file of restore's own.
source "$(dirname "$0")/lib.sh"
ulimit -c 0

ids=$PROGRAMS/pidns_ids
ws=$PROGRAMS/wait_status
img=$WORK/ids.ckpt

start orig "$ids"
wait_lines orig 1
P=$(sed -n 's/^ready pid=\([0-9]*\) .*/\1/p' "$WORK/orig.out")
orig_ns=$(sed -n 's/^ready .* ns=//p' "$WORK/orig.out")
[[ $P == "$PID_orig" ]] || fail "the program says pid '$P', the shell started $PID_orig"
dump_live orig "$img"

# The outer restore is wait_status's child; init the outer's; the root init's.
child_of() { local c; c=$(cat "/proc/$1/task/$1/children" 2>/dev/null); echo "${c%% *}"; }
wait_child() {
  local i c
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    c=$(child_of "$1")
    [[ -n $c ]] && { echo "$c"; return; }
    sleep 0.05
  done
  fail "pid $1 has no child after ${WAIT_SECONDS}s"
}
# wait_text NAME REGEX: waits until NAME.out has a line matching REGEX.
wait_text() {
  local i
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    grep -qE "$2" "$WORK/$1.out" && return 0
    sleep 0.05
  done
  fail "$1 printed no line matching '$2' in ${WAIT_SECONDS}s"
}
# ended NAME EXPECTED: wait_status's verdict on NAME's restore.
ended() {
  wait_exit "$1" 0
  local got
  got=$(cat "$WORK/$1.status")
  [[ $got == "$2" ]] || fail "restore ($1) ended with '$got', expected '$2' (as the program ended)"
}

# Without the option: another pid, and the check says so.
_spawn plain "$RESTORE" "$img"
send plain check
wait_text plain '^checked'
grep -q "^FAIL getpid() [0-9]*, was $P" "$WORK/plain.out" ||
  fail "a plain restore's check did not FAIL on getpid: $(head -n 3 "$WORK/plain.out")"
send plain "exit 0"
wait_exit plain 0

# Two with --pid-ns, side by side, while the original still runs as P.
for n in a b; do
  _spawn "$n" "$ws" "$WORK/$n.status" "$RESTORE" --pid-ns "$img"
  send "$n" ids check
done
for n in a b; do
  wait_text "$n" '^checked'
  grep -q '^PASS' "$WORK/$n.out" || fail "restore --pid-ns ($n) did not PASS: $(grep FAIL "$WORK/$n.out" | head -n 5)"
  grep -q "^ids pid=$P tid=$P ppid=1 self=$P " "$WORK/$n.out" ||
    fail "restore --pid-ns ($n): $(grep '^ids' "$WORK/$n.out"), expected pid=tid=self=$P and ppid=1"
  check_quiet "$WORK/$n.err" "restore --pid-ns ($n)"
  outer=$(wait_child "$(pid_of "$n")")
  init=$(wait_child "$outer")
  root=$(wait_child "$init")
  nspid=$(awk '/^NSpid:/ {print $2, $3}' "/proc/$root/status")
  [[ $nspid == "$root $P" ]] || fail "the host sees $n's process with NSpid '$nspid', expected '$root $P'"
  printf -v "OUTER_$n" '%s' "$outer"
  printf -v "NS_$n" '%s' "$(sed -n 's/^ids .* ns=//p' "$WORK/$n.out")"
done
[[ $NS_a != "$NS_b" && $NS_a != "$orig_ns" && $NS_b != "$orig_ns" ]] ||
  fail "pid namespaces: original $orig_ns, a $NS_a, b $NS_b: each copy should have its own"
kill -0 "$PID_orig" || fail "the original (pid $P) is gone"
log "two copies run as pid $P beside the original: namespaces $NS_a and $NS_b"

# Signals sent to the outer restore reach the program, once each.
rtmin2=$(( $(kill -l SIGRTMIN) + 2 ))
for sig in TERM HUP INT QUIT USR1 USR2 ALRM CONT WINCH $rtmin2; do
  n=$sig
  [[ $sig == [0-9]* ]] || n=$(kill -l "$sig")
  kill -s "$sig" "$OUTER_a" 2>/dev/null || kill -"$sig" "$OUTER_a"
  wait_text a "^handled signal $n from 1\$"
done
send a ids
wait_text a '^ids .*'
[[ $(grep -c '^handled signal' "$WORK/a.out") == 10 ]] ||
  fail "the program handled $(grep -c '^handled signal' "$WORK/a.out") signals, 10 were sent: $(grep '^handled' "$WORK/a.out" | tr '\n' ' ')"
send a "exit 7"
ended a "exit 7"
send b "die 10"
ended b "signal 10"
log "10 signals sent to restore reached the handler once each; exit 7 and SIGUSR1 passed out"

# --lazy inside the namespace; SIGSEGV passed out, without a core file.
_spawn c "$ws" "$WORK/c.status" "$RESTORE" --pid-ns --lazy "$img"
send c check
wait_text c '^checked'
grep -q '^PASS' "$WORK/c.out" || fail "restore --pid-ns --lazy did not PASS: $(grep FAIL "$WORK/c.out" | head -n 5)"
check_quiet "$WORK/c.err" "restore --pid-ns --lazy"
send c "die 11"
ended c "signal 11"
log "--lazy: PASS as pid $P; SIGSEGV passed out"

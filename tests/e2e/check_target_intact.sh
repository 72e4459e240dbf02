#!/usr/bin/env bash
# A failed dump leaves its target exactly as it was, whatever stage it
# failed at; and a process with a blocked, pending SIGTRAP (raised while
# blocked) is dumpable and comes back with it.
#
# The target, tests/programs/dump_target (see its header), checks from
# inside after each attempt: signal masks, pending signals (the blocked
# SIGTRAP among them), all 64 signal actions, the alternate stack, memory,
# /proc/self/maps, the registers of a busy thread, a thread blocked in
# read(). The failures:
#   - a refused descriptor (a NETLINK_GENERIC socket), found before
#     anything is injected;
#   - an -o in a folder that does not exist, found after every injection;
#   - a failure forced at each of ~45 fault points (x86/FaultPoint.h,
#     CKPT_FAULT=fail: the point throws as a failed ptrace request would):
#     while seizing, while setting up, entering and leaving each injected
#     call, and in each later phase of the dump;
#   - the target killed while a call is injected into it: one line, exit 1;
#   - SIGSTOP sent while a call is injected: the process stops after the
#     dump, as told, and is exact once continued;
#   - a seccomp filter ckpt runs under too is accepted; one under which
#     getitimer fails makes an injected call really fail (the target, a
#     sleep, is then checked from outside: running, untraced);
#   - a seccomp filter in the target (one that makes getitimer fail with
#     EPERM): ckpt suspends it for its own calls (getitimer is answered),
#     carries it in the image, and leaves the target exact, under it.
#     (e2e.check_seccomp: what is refused.)
# Then: dumped with --kill and restored, the target's final check takes the
# SIGTRAP (and the other pending signals) back with their siginfo.
source "$(dirname "$0")/lib.sh"

# checked WHAT NAME: one "check N" round trip with the target (lib.sh),
# which must be untraced too.
checked() {
  target_check "$2" "$1"
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$(pid_of "$2")/status") == 0 ]] || fail "$1: the target is still traced"
}

# failed WHAT PATTERN [ENV...] -- ckpt dump fails: exit 1, one line on stderr matching PATTERN.
failed() {
  local what=$1 pattern=$2 rc
  shift 2
  env "$@" "$CKPT" dump "$PID_t" -o "${OUT:-$WORK/x.ckpt}" >"$WORK/f.out" 2>"$WORK/f.err"
  rc=$?
  ((rc == 1)) || fail "$what: ckpt exited $rc, expected 1: $(head -n 3 "$WORK/f.err")"
  (($(wc -l <"$WORK/f.err") == 1)) || fail "$what: expected one line on stderr: $(head -n 5 "$WORK/f.err")"
  grep -qE "$pattern" "$WORK/f.err" || fail "$what: the message does not say why: $(cat "$WORK/f.err")"
  compgen -G "$WORK/x.ckpt*" >/dev/null && fail "$what: a failed dump left $(ls "$WORK"/x.ckpt*)"
  return 0
}

start t "$PROGRAMS/dump_target"
wait_lines t 1
checked "before any dump" t

dump_live t "$WORK/live.ckpt"
checked "after a dump that succeeded" t

send t sock
wait_lines t 3
fd=$(awk '/^sock / {print $2}' "$WORK/t.out")
failed "a refused socket" "fd $fd"
log "refused: $(cat "$WORK/f.err")"
checked "after a dump refused for its socket" t
send t unsock
wait_lines t 5

OUT=$WORK/missing/x.ckpt failed "an -o in a missing folder" "missing"
log "refused: $(cat "$WORK/f.err")"
checked "after a dump that could not create its image" t

CKPT_FAULT=trace "$CKPT" dump "$PID_t" -o "$WORK/trace.ckpt" >/dev/null 2>"$WORK/trace.err" ||
  fail "a traced dump failed: $(grep -v '^ckpt fault point' "$WORK/trace.err" | head -n 3)"
rm -f "$WORK/trace.ckpt"
grep '^ckpt fault point' "$WORK/trace.err" | sed 's/^ckpt fault point \([0-9]*\): /\1 /' >"$WORK/points"
total=$(wc -l <"$WORK/points")
first_call=$(awk '/inject: at the system call.s entry/ {print $1; exit}' "$WORK/points")
checked "after a traced dump" t
forced=0
for ((n = 1; n <= total; n++)); do
  ((total <= 160 || n <= first_call + 4 || n % 11 == 0 || n > total - 12)) || continue
  what=$(awk -v n="$n" '$1 == n {$1 = ""; print substr($0, 2)}' "$WORK/points")
  CKPT_FAULT=fail CKPT_FAULT_AT=$n "$CKPT" dump "$PID_t" -o "$WORK/x.ckpt" >/dev/null 2>"$WORK/f.err"
  rc=$?
  if ((rc == 1)); then
    # The points where putting things back happens cannot fail (only be
    # killed at): those dumps succeed.
    grep -q "injected failure at fault point $n " "$WORK/f.err" ||
      fail "point $n ($what): the failure says: $(head -n 3 "$WORK/f.err")"
    (($(wc -l <"$WORK/f.err") == 1)) || fail "point $n ($what): more than one line: $(head -n 5 "$WORK/f.err")"
    forced=$((forced + 1))
  else
    ((rc == 0)) || fail "point $n ($what): ckpt exited $rc: $(head -n 3 "$WORK/f.err")"
  fi
  rm -f "$WORK"/x.ckpt*
  checked "dump failed at point $n ($what)" t
done
((forced >= 30)) || fail "only $forced dumps failed at a forced point"
log "$forced dumps failed at forced points (of $total), each leaving the target exact"

# SIGSTOP sent while a call is injected (ckpt stopped at the 2nd single
# call's exit stop, and once the batch of calls is set up, so that it
# arrives while the batch runs): the dump succeeds, the process is stopped
# after it, as SIGSTOP says, and once continued it is exact.
grep -q 'inject: batch set up' "$WORK/points" || fail "the traced dump injected no batch of calls"
for n in $(awk '/inject: at the system call.s exit/ && ++k == 2 {print $1} /inject: batch set up/ {print $1}' "$WORK/points"); do
  what=$(awk -v n="$n" '$1 == n {$1 = ""; print substr($0, 2)}' "$WORK/points")
  CKPT_FAULT=stop CKPT_FAULT_AT=$n "$CKPT" dump "$PID_t" -o "$WORK/s.ckpt" >/dev/null 2>"$WORK/s.err" &
  dumper=$!
  for ((i = 0; i < 500; i++)); do
    [[ $(proc_state "$dumper") == T ]] && break
    sleep 0.01
  done
  [[ $(proc_state "$dumper") == T ]] || fail "ckpt did not stop at fault point $n ($what)"
  kill -STOP "$PID_t"
  kill -CONT "$dumper"
  wait "$dumper" || fail "the dump during which SIGSTOP arrived ($what) failed: $(cat "$WORK/s.err")"
  for ((i = 0; i < 200; i++)); do
    [[ $(proc_state "$PID_t") == T ]] && break
    sleep 0.01
  done
  [[ $(proc_state "$PID_t") == T ]] || fail "SIGSTOP sent during injection ($what) was lost (state $(proc_state "$PID_t"))"
  kill -CONT "$PID_t"
  checked "after SIGSTOP arrived during injection ($what) and SIGCONT" t
  log "SIGSTOP sent during injection ($what) stopped the process after the dump"
done

have=$(wc -l <"$WORK/t.out")
send t seccomp
wait_lines t $((have + 1))
"$CKPT" dump "$PID_t" -o "$WORK/sc.ckpt" >/dev/null 2>"$WORK/sc.err" ||
  fail "the dump of a target under its own seccomp filter failed: $(cat "$WORK/sc.err")"
"$CKPT" inspect "$WORK/sc.ckpt" >"$WORK/sc.inspect" || fail "ckpt inspect of the image with a filter failed"
[[ $(grep -c '^seccomp filter' "$WORK/sc.inspect") == 1 ]] ||
  fail "the image does not carry the target's one filter: $(grep -i seccomp "$WORK/sc.inspect")"
log "dumped under the target's own seccomp filter: $(grep '^seccomp filter' "$WORK/sc.inspect")"
checked "after a dump through its seccomp filter" t
send t final
close_input t
wait_exit t 0
grep -q '^PASS' "$WORK/t.out" || fail "the target's final check did not pass"

# A filter the dumper runs under too (as in a container) is its
# environment's, not the target's own: the dump goes on. With a filter that
# makes no injected call fail (on acct) it succeeds; with one that makes
# getitimer fail with EPERM, that injected call fails for real, and the dump
# with it, in one line, leaving the target running and untraced.
under_shared() {
  "$PROGRAMS/dump_target" --under-seccomp "$1" bash -c '
    sleep 60 & p=$!
    grep -q "^Seccomp_filters:[[:space:]]*1$" /proc/$p/status || { echo "no filter on the target" >&2; kill $p; exit 3; }
    "$1" dump $p -o "$2" >/dev/null; rc=$?
    state=$(awk "{print \$3}" /proc/$p/stat); tracer=$(awk "/^TracerPid:/ {print \$2}" /proc/$p/status)
    [[ ($state == S || $state == R) && $tracer == 0 ]] || { echo "target left in state $state, tracer $tracer" >&2; rc=4; }
    kill $p; exit $rc' - "$CKPT" "$WORK/shared.ckpt" 2>"$WORK/shared.err"
}
under_shared 163 || fail "a target under the dumper's own seccomp filter (acct) was not dumped: $(cat "$WORK/shared.err")"
[[ -s $WORK/shared.ckpt ]] || fail "no image of a target under the dumper's own seccomp filter"
rm -f "$WORK/shared.ckpt"
log "dumped: a target under the same seccomp filter as ckpt"
under_shared 36
rc=$?
((rc == 1)) || fail "getitimer failing under a shared filter: exit $rc: $(cat "$WORK/shared.err")"
(($(wc -l <"$WORK/shared.err") == 1)) && grep -q "interval timer.*Operation not permitted" "$WORK/shared.err" ||
  fail "getitimer failing under a shared filter: $(cat "$WORK/shared.err")"
compgen -G "$WORK/shared.ckpt*" >/dev/null && fail "a failed dump left $(ls "$WORK"/shared.ckpt*)"
log "refused, an injected call failed (getitimer, EPERM): $(cat "$WORK/shared.err")"

# The target killed while a call is injected into it (ckpt stopped at the
# 10th call's entry stop, the target killed, ckpt continued): one line,
# exit 1, no file left.
start v "$PROGRAMS/dump_target"
wait_lines v 1
n=$(awk '/inject: at the system call.s entry/ && ++k == 10 {print $1}' "$WORK/points")
CKPT_FAULT=stop CKPT_FAULT_AT=$n "$CKPT" dump "$PID_v" -o "$WORK/x.ckpt" >"$WORK/f.out" 2>"$WORK/f.err" &
dumper=$!
for ((i = 0; i < 500; i++)); do
  [[ $(proc_state "$dumper") == T ]] && break
  sleep 0.01
done
[[ $(proc_state "$dumper") == T ]] || fail "ckpt did not stop at fault point $n"
kill -9 "$PID_v"
kill -CONT "$dumper"
wait "$dumper"
rc=$?
wait "$PID_v" 2>/dev/null
unset "_PIDS[v]"
((rc == 1)) || fail "a dump whose target died mid-injection exited $rc: $(head -n 3 "$WORK/f.err")"
(($(wc -l <"$WORK/f.err") == 1)) || fail "a dump whose target died mid-injection: not one line: $(head -n 5 "$WORK/f.err")"
compgen -G "$WORK/x.ckpt*" >/dev/null && fail "a dump whose target died mid-injection left $(ls "$WORK"/x.ckpt*)"
log "refused, the target killed mid-injection: $(cat "$WORK/f.err")"

# Dumpable with its blocked pending SIGTRAP, and restored with it.
start u "$PROGRAMS/dump_target"
wait_lines u 1
dump u "$WORK/u.ckpt"
restore_start back "$WORK/u.ckpt"
wait_lines back 0
send back final
close_input back
wait_exit back any
grep -q '^PASS' "$WORK/back.out" && ((EXIT_STATUS == 0)) ||
  fail "the restored target did not pass (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/back.out" | head -n 5)"
check_quiet "$WORK/back.err" "restored dump_target"
log "PASS: $(grep '^PASS' "$WORK/back.out")"

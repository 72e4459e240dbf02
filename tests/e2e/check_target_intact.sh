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
#   - a refused descriptor (a TCP socket), found before anything is injected;
#   - an -o in a folder that does not exist, found after every injection;
#   - a failure forced at each of ~45 fault points (x86/FaultPoint.h,
#     CKPT_FAULT=fail: the point throws as a failed ptrace request would):
#     while seizing, while setting up, entering and leaving each injected
#     call, and in each later phase of the dump;
#   - a seccomp filter in the target (one that would only make getitimer
#     fail with EPERM): refused after the seize, before any call is
#     injected, since a filter may as well kill, trap or block on one, and
#     seccomp is not restored.
# Then: dumped with --kill and restored, the target's final check takes the
# SIGTRAP (and the other pending signals) back with their siginfo.
source "$(dirname "$0")/lib.sh"

step=0
checked() {
  local i
  step=$((step + 1))
  send "$2" "check $step"
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    grep -qE "^(ok|bad) $step\$" "$WORK/$2.out" && break
    sleep 0.05
  done
  grep -qx "ok $step" "$WORK/$2.out" || fail "$1: the target's check $step did not pass"
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
  ((n <= first_call + 4 || n % 11 == 0 || n > total - 12)) || continue
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

have=$(wc -l <"$WORK/t.out")
send t seccomp
wait_lines t $((have + 1))
failed "a seccomp filter" "thread $PID_t runs under seccomp filters of its own"
log "refused: $(cat "$WORK/f.err")"
checked "after a dump refused for its seccomp filter" t
send t final
close_input t
wait_exit t 0
grep -q '^PASS' "$WORK/t.out" || fail "the target's final check did not pass"

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

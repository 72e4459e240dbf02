#!/usr/bin/env bash
# What ckpt cannot carry of POSIX timers and oom_score_adj is said, never
# dropped:
#   - a timer on one thread's CPU clock: `ckpt dump --kill` refuses it in
#     one line naming the timer, writes no image and leaves the process
#     running, untraced; so are 65537 timers, one more than an image holds,
#     and an absolute timerfd in a process that unshared its time namespace
#     itself (its clock offsets cannot be read);
#   - an image whose timer uses a clock this machine lacks (an alarm clock
#     without an RTC) or cannot use (without CAP_WAKE_ALARM): refused in
#     phase 1, by --check too; a clock no timer can have: a bad image;
#   - oom_score_adj below the caller's: without CAP_SYS_RESOURCE kept at
#     the caller's, with a warning; with it (where root has it), set;
#   - a time namespace the kernel will not create (unshare made to fail
#     with EPERM by a seccomp filter): exit 1 in one line naming
#     --host-clocks, before the point of no return; --host-clocks restores.
# Needs root (setpriv drops capabilities from a root restore).
source "$(dirname "$0")/lib.sh"
EDIT="$PROGRAMS/../tools/image_edit"
[[ -x $EDIT ]] || fail "image_edit not built at $EDIT"
((EUID == 0)) || fail "must run as root: it drops capabilities with setpriv"

# 1. Refused at dump, before --kill.
start t "$PROGRAMS/thread_cpu_timer"
wait_lines t 1
"$CKPT" dump "$PID_t" -o "$WORK/t.ckpt" --kill >"$WORK/dump.out" 2>"$WORK/dump.err" &&
  fail "ckpt dump accepted a timer on a thread's CPU clock"
grep -q "pid $PID_t: POSIX timer 0 counts one thread's CPU time" "$WORK/dump.err" ||
  fail "ckpt dump did not name the timer: $(cat "$WORK/dump.err")"
(($(wc -l <"$WORK/dump.err") == 1)) || fail "ckpt dump said more than one line: $(cat "$WORK/dump.err")"
[[ -e $WORK/t.ckpt ]] && fail "a refused dump left an image"
state=$(proc_state "$PID_t")
[[ $state == S || $state == R ]] || fail "the refused process is in state '$state'"
[[ $(awk '/^TracerPid:/ {print $2}' "/proc/$PID_t/status") == 0 ]] || fail "the refused process is still traced"
close_input t
wait_exit t 0

# 1b. More timers than the format holds (65536): refused, naming the count.
if (ulimit -i 70000 2>/dev/null); then
  start many bash -c 'ulimit -i 70000 && exec "$0" 65537' "$PROGRAMS/many_timers"
  wait_lines many 1
  grep -q '^ready 65537' "$WORK/many.out" || fail "many_timers did not make 65537 timers: $(cat "$WORK/many.err")"
  "$CKPT" dump "$PID_many" -o "$WORK/many.ckpt" --kill >"$WORK/dump.out" 2>"$WORK/dump.err" &&
    fail "ckpt dump accepted 65537 POSIX timers"
  grep -q "pid $PID_many has 65537 POSIX timers, more than the format's limit of 65536" "$WORK/dump.err" ||
    fail "ckpt dump of 65537 timers: $(cat "$WORK/dump.err")"
  [[ -e $WORK/many.ckpt ]] && fail "a refused dump left an image"
  close_input many
  wait_exit many 0
else
  log "NOTE: RLIMIT_SIGPENDING cannot be raised to 70000 here: the timer count limit is not tried"
fi

# 1c. An absolute timerfd in a process whose own time namespace is not the
# one /proc shows (it called unshare(CLONE_NEWTIME) itself): refused.
start u "$PROGRAMS/state_clocks" --unshare
wait_lines u 1
"$CKPT" dump "$PID_u" -o "$WORK/u.ckpt" --kill >"$WORK/dump.out" 2>"$WORK/dump.err" &&
  fail "ckpt dump accepted an absolute timer on a clock whose offsets it cannot read"
grep -q "an absolute timer: its time namespace is not the one its children get" "$WORK/dump.err" ||
  fail "ckpt dump of an unshared time namespace: $(cat "$WORK/dump.err")"
(($(wc -l <"$WORK/dump.err") == 1)) || fail "ckpt dump said more than one line: $(cat "$WORK/dump.err")"
close_input u
wait_exit u 0

# 2. Clocks at restore.
start p "$PROGRAMS/state_posix_timers"
wait_lines p 1
dump p "$WORK/timers.ckpt"
"$EDIT" "$WORK/timers.ckpt" "$WORK/alarm.ckpt" timer_clock=8 || fail "image_edit timer_clock=8"
nowake=(setpriv --inh-caps=-wake_alarm --bounding-set=-wake_alarm)
for check in "" --check; do
  "${nowake[@]}" "$RESTORE" $check "$WORK/alarm.ckpt" </dev/null >"$WORK/r.out" 2>"$WORK/r.err" &&
    fail "restore $check accepted a timer on an alarm clock without CAP_WAKE_ALARM"
  grep -qE 'POSIX timer [0-9]+ uses (clock 8, which this machine lacks|an alarm clock, which needs CAP_WAKE_ALARM)' \
    "$WORK/r.err" || fail "restore $check: $(cat "$WORK/r.err")"
  (($(wc -l <"$WORK/r.err") == 1)) && [[ ! -s $WORK/r.out ]] || fail "restore $check said more than one line"
done
"$EDIT" "$WORK/timers.ckpt" "$WORK/raw.ckpt" timer_clock=4 || fail "image_edit timer_clock=4"
"$RESTORE" "$WORK/raw.ckpt" </dev/null >"$WORK/r.out" 2>"$WORK/r.err" && fail "restore accepted a timer on CLOCK_MONOTONIC_RAW"
grep -q 'bad image .*clock 4 cannot be restored' "$WORK/r.err" || fail "restore of clock 4: $(cat "$WORK/r.err")"

# 3. oom_score_adj below the caller's.
start c "$PROGRAMS/state_clocks"
wait_lines c 1
dump c "$WORK/clocks.ckpt"
"$EDIT" "$WORK/clocks.ckpt" "$WORK/oom.ckpt" oom_score_adj=-500 || fail "image_edit oom_score_adj=-500"
mine=$(cat /proc/self/oom_score_adj)
((mine > -500)) || fail "this test runs with oom_score_adj $mine; it needs one above -500"
restore_oom() {
  local n
  _spawn back "$@" "$WORK/oom.ckpt"
  send back tick
  wait_lines back 1
  OOM=$(cat "/proc/$PID_back/oom_score_adj")
  close_input back
  wait_exit back 0
}
restore_oom setpriv --inh-caps=-sys_resource --bounding-set=-sys_resource "$RESTORE"
((OOM == mine)) || fail "restored without CAP_SYS_RESOURCE: oom_score_adj $OOM, want the caller's $mine"
grep -q "^restore: warning: oom_score_adj kept at $mine, above the saved -500 (lowering it needs CAP_SYS_RESOURCE)" \
  "$WORK/back.err" || fail "no warning for the oom_score_adj kept: $(cat "$WORK/back.err")"
if (($(printf '%d' "0x$(awk '/^CapEff:/ {print $2}' /proc/self/status)") >> 24 & 1)); then
  restore_oom "$RESTORE"
  ((OOM == -500)) || fail "restored with CAP_SYS_RESOURCE: oom_score_adj $OOM, want -500"
  check_quiet "$WORK/back.err" restore
else
  log "NOTE: this machine's root lacks CAP_SYS_RESOURCE: lowering oom_score_adj is not tried with it"
fi
# 4. unshare(CLONE_NEWTIME) refused by the kernel.
cat >"$WORK/no_unshare.py" <<'PY'
import ctypes, os, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
# Load the syscall number; unshare (272 on x86-64) gets EPERM, all else runs.
prog = b"".join(struct.pack("HBBI", *f) for f in [
    (0x20, 0, 0, 0), (0x15, 0, 1, 272), (0x06, 0, 0, 0x00050001), (0x06, 0, 0, 0x7fff0000)])
buf = ctypes.create_string_buffer(prog)
fprog = struct.pack("HxxxxxxQ", 4, ctypes.addressof(buf))
if libc.prctl(38, 1, 0, 0, 0) or libc.prctl(22, 2, ctypes.c_char_p(fprog), 0, 0):  # NO_NEW_PRIVS, SECCOMP_MODE_FILTER
    sys.exit("cannot install the seccomp filter: %s" % os.strerror(ctypes.get_errno()))
os.execv(sys.argv[1], sys.argv[1:])
PY
no_unshare=(python3 "$WORK/no_unshare.py")
"${no_unshare[@]}" "$RESTORE" "$WORK/clocks.ckpt" </dev/null >"$WORK/r.out" 2>"$WORK/r.err" &&
  fail "restore went on without its time namespace"
grep -q 'time namespace: cannot create one: Operation not permitted (restore --host-clocks does without one)' \
  "$WORK/r.err" || fail "restore with unshare refused: $(cat "$WORK/r.err")"
# (Besides the warning that the filter itself is one the process lacked.)
(($(grep -vc '^restore: warning: .* more seccomp filters than the process had$' "$WORK/r.err") == 1)) &&
  [[ ! -s $WORK/r.out ]] || fail "restore with unshare refused said more than one line: $(cat "$WORK/r.err")"
_spawn back "${no_unshare[@]}" "$RESTORE" --host-clocks "$WORK/clocks.ckpt"
send back tick
wait_lines back 1
close_input back
wait_exit back 0

log "PASS: thread CPU-clock timer refused at dump; alarm clock and clock 4 refused at restore; oom_score_adj -500 set, or kept with a warning; no time namespace: exit 1, --host-clocks restores"

# Credentials and scheduling (format.md "Scheduling", "Credentials"): what
# ckpt cannot carry exactly is refused, naming it, and what it carries comes
# back exactly.
#   dump refusals (the process runs on, untouched): a thread scheduled
#   unlike its leader (its own nice value), SCHED_DEADLINE;
#   restore refusals where the restored process would have more than it
#   had or could not be scheduled as it was (phase 1: exit 1, one line, the
#   caller never becomes the program), from images edited by
#   tests/tools/image_edit: a CPU this machine lacks, a smaller bounding
#   set, a seccomp filter restore does not run under, another saved uid; a
#   group restore has and the process lacked (setpriv --groups); a bad
#   policy, a nice value out of range and a missing section are format
#   errors;
#   less than it had is one warning line: a group it was in, a capability;
#   carried: a process started with a smaller bounding set is refused by a
#   plain restore and restored exactly under the same bounding set; a
#   SCHED_FIFO process under taskset comes back SCHED_FIFO, same priority,
#   same CPUs.
source "$(dirname "$0")/lib.sh"
EDIT="$PROGRAMS/../tools/image_edit"
[[ -x $EDIT ]] || fail "image_edit not built at $EDIT"
((EUID == 0)) || fail "must run as root (chrt -f, setpriv --bounding-set)"

# dump_refused NAME PATTERN: ckpt dump of NAME fails with one line matching
# PATTERN, writes no image, and NAME still runs.
dump_refused() {
  local pid
  pid=$(pid_of "$1")
  if "$CKPT" dump "$pid" -o "$WORK/$1.ckpt" --kill >"$WORK/dump-$1.out" 2>"$WORK/dump-$1.err"; then
    fail "$1: ckpt dump succeeded, expected a refusal matching '$2'"
  fi
  (($(wc -l <"$WORK/dump-$1.err") == 1)) || fail "$1: expected one line: $(cat "$WORK/dump-$1.err")"
  grep -qE "$2" "$WORK/dump-$1.err" || fail "$1: not the expected refusal: $(cat "$WORK/dump-$1.err")"
  [[ ! -e $WORK/$1.ckpt ]] || fail "$1: an image was left behind"
  [[ $(proc_state "$pid") == [SR] ]] || fail "$1: not running after the refused dump: $(proc_state "$pid")"
  log "dump of $1 refused: $(cat "$WORK/dump-$1.err")"
}

# One thread with a nice value of its own.
start niced python3 -c '
import os, sys, threading
ready = threading.Event()
def own_nice():
    os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 5)
    ready.set()
    threading.Event().wait()
threading.Thread(target=own_nice, daemon=True).start()
ready.wait()
print("ready", flush=True)
sys.stdin.readline()'
wait_lines niced 1
dump_refused niced "pid [0-9]+: thread [0-9]+ is scheduled unlike the thread group's leader \(policy SCHED_OTHER, nice 5"
close_input niced
wait_exit niced 0

if chrt -d --sched-runtime 1000000 --sched-deadline 20000000 --sched-period 20000000 0 true 2>/dev/null; then
  start deadline chrt -d --sched-runtime 1000000 --sched-deadline 20000000 --sched-period 20000000 0 "$PROGRAMS/sleeper" 100000
  wait_lines deadline 1
  dump_refused deadline "runs under SCHED_DEADLINE, which ckpt does not carry"
else
  log "SCHED_DEADLINE cannot be set here (admission control or a cgroup): that refusal is not exercised"
fi

# Restore refusals, from a plain image.
start plain "$PROGRAMS/sleeper" 100000
wait_lines plain 1
"$CKPT" dump "$PID_plain" -o "$WORK/base.ckpt" --kill >/dev/null 2>"$WORK/dump-plain.err" || fail "dump: $(cat "$WORK/dump-plain.err")"
wait_gone plain
refused() {
  local name=$1 pattern=$2 rc
  shift 2
  "$EDIT" "$WORK/base.ckpt" "$WORK/$name.ckpt" "$@" || fail "image_edit $* failed"
  timeout -k 2 20 "$RESTORE" "$WORK/$name.ckpt" >"$WORK/$name.out" 2>"$WORK/$name.err" </dev/null
  rc=$?
  ((rc == 1)) || fail "$name: restore exited $rc, expected 1: $(cat "$WORK/$name.err")"
  [[ -s $WORK/$name.out ]] && fail "$name: restore printed on stdout (it became the program)"
  (($(wc -l <"$WORK/$name.err") == 1)) || fail "$name: expected one line on stderr: $(cat "$WORK/$name.err")"
  grep -qE "$pattern" "$WORK/$name.err" || fail "$name: the message does not say why: $(cat "$WORK/$name.err")"
  "$RESTORE" --check "$WORK/$name.ckpt" >/dev/null 2>&1 && fail "$name: restore --check accepted what restore refuses"
  log "refused $name: $(cat "$WORK/$name.err")"
}
refused cpu "CPUs 4000.*its CPU affinity cannot be set here" affinity_cpu=4000
refused bounding "include bounding capabilities 0x[0-9a-f]+ the process did not have \(its bounding set was 0x1;" cap_bnd=1
refused seccomp "under seccomp mode 0 with 0 filters, while the process ran under mode 2 with 1" seccomp_filters=1
refused suid "saved/file-system uid 0/0 and gid 0/0 differ from the saved 12345/0" suid=12345
setpriv --groups 4242 "$RESTORE" --check "$WORK/base.ckpt" >/dev/null 2>"$WORK/groups.err" </dev/null &&
  fail "restore in group 4242 accepted a process that was in no supplementary group"
grep -q "include supplementary groups 4242 the process was not in" "$WORK/groups.err" || fail "groups: $(cat "$WORK/groups.err")"
log "refused an extra group: $(cat "$WORK/groups.err")"
# Less than it had: warned, one line each, and the restore goes on.
"$EDIT" "$WORK/base.ckpt" "$WORK/ingroup.ckpt" groups_add=4242 || fail "image_edit groups_add failed"
"$RESTORE" --check "$WORK/ingroup.ckpt" >/dev/null 2>"$WORK/ingroup.err" </dev/null ||
  fail "restore --check of a process in group 4242: $(cat "$WORK/ingroup.err")"
grep -q "^restore: warning: .*without its supplementary groups 4242$" "$WORK/ingroup.err" || fail "no warning: $(cat "$WORK/ingroup.err")"
setpriv --bounding-set -sys_time "$RESTORE" --check "$WORK/base.ckpt" >/dev/null 2>"$WORK/lesscaps.err" </dev/null ||
  fail "restore --check without CAP_SYS_TIME: $(cat "$WORK/lesscaps.err")"
grep -q "^restore: warning: .*without permitted capabilities 0x2000000 it had$" "$WORK/lesscaps.err" ||
  fail "no warning for the missing capability: $(cat "$WORK/lesscaps.err")"
log "warned: $(cat "$WORK/ingroup.err" "$WORK/lesscaps.err" | tr '\n' ' ')"
refused policy "scheduling: unknown scheduling policy 6" sched_policy=6
refused nice "scheduling: nice value 25 is outside" sched_nice=25
refused nosched "no scheduling section" no_scheduling=1
refused nocreds "no credentials section" no_credentials=1

# Carried: a smaller bounding set, then real-time scheduling on chosen CPUs.
LESS_CAPS=(setpriv --bounding-set -sys_time,-net_raw)
start bnd "${LESS_CAPS[@]}" "$PROGRAMS/sleeper" 100000
wait_lines bnd 1
want=$(grep CapBnd "/proc/$PID_bnd/status")
"$CKPT" dump "$PID_bnd" -o "$WORK/bnd.ckpt" --kill >/dev/null 2>"$WORK/dump-bnd.err" || fail "dump: $(cat "$WORK/dump-bnd.err")"
wait_gone bnd
"$RESTORE" "$WORK/bnd.ckpt" >/dev/null 2>"$WORK/bnd-plain.err" </dev/null && fail "a plain restore ran the process with all of root's bounding set"
grep -qE "include (permitted|bounding) capabilities 0x[0-9a-f]+ the process did not have" "$WORK/bnd-plain.err" || fail "plain restore: $(cat "$WORK/bnd-plain.err")"
RESTORE_FLAGS= _spawn rbnd "${LESS_CAPS[@]}" "$RESTORE" "$WORK/bnd.ckpt"
wait_lines rbnd 1
got=$(grep CapBnd "/proc/$(pid_of rbnd)/status")
[[ $got == "$want" ]] || fail "restored bounding set '$got', saved '$want'"
log "a smaller bounding set is refused by a plain restore and carried under the same one ($got)"

start rt taskset -c 1 chrt -f 10 "$PROGRAMS/sleeper" 100000
wait_lines rt 1
"$CKPT" dump "$PID_rt" -o "$WORK/rt.ckpt" --kill >/dev/null 2>"$WORK/dump-rt.err" || fail "dump: $(cat "$WORK/dump-rt.err")"
wait_gone rt
restore_start rrt "$WORK/rt.ckpt"
wait_lines rrt 1
pid=$(pid_of rrt)
policy=$(chrt -p "$pid")
[[ $policy == *"SCHED_FIFO"*"priority: 10"* ]] || fail "restored scheduling: $policy"
[[ $(taskset -pc "$pid") == *": 1" ]] || fail "restored affinity: $(taskset -pc "$pid")"
log "SCHED_FIFO 10 on CPU 1 carried: $(tr '\n' ' ' <<<"$policy")"
shown=$("$CKPT" inspect "$WORK/rt.ckpt") || fail "ckpt inspect rt.ckpt failed"
grep -q "^scheduling: policy SCHED_FIFO priority 10, nice 0, CPUs 1," <<<"$shown" ||
  fail "ckpt inspect does not show the saved scheduling: $(grep -i sched <<<"$shown")"
log PASS

#!/usr/bin/env bash
# The dumper's failures, each a clear message and a non-zero exit, with the
# target untouched (still running, not traced, still answering), no partial
# file, and an older image at the same path intact. Complements bad_input.sh
# (missing pid, missing or read-only output folder, /proc as output, extra
# fds, threads) with what needs root or races:
#   - a process the caller may not trace (ckpt run as nobody against root's);
#   - a process already traced (by strace);
#   - a zombie; a kernel thread; ckpt's own pid;
#   - a full disk (a 128 KiB tmpfs in a private mount namespace);
#   - the target killed while the dump runs: no image;
#   - ckpt itself killed with SIGKILL while dumping: the target carries on,
#     untraced, and the temporary file left behind (NAME.tmp-XXXXXX) is not
#     an image: `ckpt verify` refuses it and the final name does not exist;
#   - ckpt killed with SIGKILL while a system call is injected into the
#     target, at each stop of one injected call and of putting the thread
#     back (deterministic kill points: CKPT_FAULT=kill, x86/FaultPoint.h):
#     the target carries on, untraced, and answers. check_dumper_killed.sh
#     sweeps a whole dump this way, checking the target's state from inside.
# (A target cannot exec in the middle of a dump: it is stopped from the
# seize to the release; exiting is the case that can happen, by SIGKILL.)
# The default leave-running dump is invisible to the process: leave_running.sh.
source "$(dirname "$0")/lib.sh"

((EUID == 0)) || fail "must run as root (nobody against root, mount namespaces)"

# refused WHAT PATTERN CMD...: exit 1, nothing on stdout, one line on stderr
# matching PATTERN.
refused() {
  local what=$1 pattern=$2 rc
  shift 2
  timeout -k 5 30 "$@" </dev/null >"$WORK/last.stdout" 2>"$WORK/last.stderr"
  rc=$?
  ((rc == 1)) || fail "$what: exit status $rc, expected 1: $(cat "$WORK/last.stderr")"
  [[ -s $WORK/last.stdout ]] && fail "$what: printed on stdout: $(head -c 200 "$WORK/last.stdout")"
  (($(wc -l <"$WORK/last.stderr") == 1)) || fail "$what: expected one line on stderr: $(cat "$WORK/last.stderr")"
  grep -qE "$pattern" "$WORK/last.stderr" || fail "$what: the message does not say why: $(cat "$WORK/last.stderr")"
  log "refused, $what: $(cat "$WORK/last.stderr")"
}

# untouched NAME STEP: running, not traced, and it answers line STEP.
untouched() {
  local pid state tracer
  pid=$(pid_of "$1")
  state=$(proc_state "$pid")
  [[ $state == S || $state == R ]] || fail "$1 (pid $pid) is in state '$state', expected running"
  tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status")
  [[ $tracer == 0 ]] || fail "$1 (pid $pid) is still traced by $tracer"
  send "$1" "line-$2"
  wait_lines "$1" "$2"
}

# no_leftovers DIR WANT: DIR holds exactly the files WANT (no temporary file).
no_leftovers() {
  local have
  have=$(ls -A "$1" | sort | tr '\n' ' ')
  [[ $have == "$2" ]] || fail "files in $1: '$have', expected '$2'"
}

seq 100000 | head -c $((8 * 4096 + 100)) >"$WORK/data"
chmod 755 "$WORK"
chmod 644 "$WORK/data"
mkdir -m 1777 "$WORK/out"
start victim "$PROGRAMS/counter" "$WORK/data"
send victim line-1
wait_lines victim 1
step=1

# --- not permitted: nobody may not trace root's process. ckpt is copied
# where nobody can run it (the build tree may be private).
cp "$CKPT" "$WORK/ckpt" && chmod 755 "$WORK/ckpt" || fail "cannot copy ckpt"
refused "a root process dumped by nobody" "not permitted to trace pid $PID_victim" \
  setpriv --reuid=nobody --regid=nogroup --clear-groups "$WORK/ckpt" dump "$PID_victim" -o "$WORK/out/x.ckpt"
no_leftovers "$WORK/out" ""
untouched victim $((++step))

# --- already traced: strace holds it.
command -v strace >/dev/null || fail "strace is needed (.ci/deps installs it)"
strace -p "$PID_victim" -o /dev/null 2>/dev/null &
strace_pid=$!
_PIDS[strace]=$strace_pid
for ((i = 0; i < 200; i++)); do
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$PID_victim/status") == "$strace_pid" ]] && break
  sleep 0.02
done
((i < 200)) || fail "strace did not attach to pid $PID_victim"
refused "a process already traced by strace" "not permitted to trace pid $PID_victim.*already traced" \
  "$CKPT" dump "$PID_victim" -o "$WORK/out/x.ckpt"
no_leftovers "$WORK/out" ""
kill "$strace_pid"
wait "$strace_pid" 2>/dev/null
unset "_PIDS[strace]"
for ((i = 0; i < 200; i++)); do
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$PID_victim/status") == 0 ]] && break
  sleep 0.02
done
untouched victim $((++step))

# --- a zombie: a child its parent (exec'd into sleep) never reaps.
# (python forks and never waits, then becomes sleep, which never waits either:
# no shell that might reap the child in between)
/usr/bin/python3 -c 'import os, sys
pid = os.fork()
if pid == 0:
    os._exit(0)
open(sys.argv[1], "w").write(str(pid))
os.execvp("sleep", ["sleep", "60"])' "$WORK/zombie.pid" &
_PIDS[zparent]=$!
for ((i = 0; i < 200; i++)); do
  [[ -s $WORK/zombie.pid && $(proc_state "$(cat "$WORK/zombie.pid")") == Z ]] && break
  sleep 0.02
done
zombie=$(cat "$WORK/zombie.pid")
[[ $(proc_state "$zombie") == Z ]] || fail "could not make a zombie (pid $zombie is $(proc_state "$zombie"))"
refused "a zombie" "pid $zombie is a zombie" "$CKPT" dump "$zombie" -o "$WORK/out/x.ckpt"
no_leftovers "$WORK/out" ""

# --- a kernel thread: the first one /proc shows (PF_KTHREAD, 0x00200000).
kthread=
for stat in /proc/[0-9]*/stat; do
  read -r line <"$stat" 2>/dev/null || continue
  rest=${line##*) }
  flags=$(awk '{print $7}' <<<"$rest")
  if (((flags & 0x00200000) != 0)); then
    kthread=${stat#/proc/}
    kthread=${kthread%/stat}
    break
  fi
done
if [[ -n $kthread ]]; then
  refused "a kernel thread" "pid $kthread is a kernel thread" "$CKPT" dump "$kthread" -o "$WORK/out/x.ckpt"
else
  log "SKIPPED the kernel-thread case: no kernel thread is visible in this pid namespace"
fi
no_leftovers "$WORK/out" ""

# --- ckpt's own pid: the shell execs ckpt, so $$ is ckpt's pid.
refused "ckpt asked to dump itself" "is ckpt itself" sh -c 'exec "$1" dump $$ -o "$2"' - "$CKPT" "$WORK/out/x.ckpt"
no_leftovers "$WORK/out" ""

# --- a full disk, with an older image at the same path that must survive.
"$CKPT" dump "$PID_victim" -o "$WORK/old.ckpt" --compress zstd >/dev/null 2>"$WORK/dump-old.err" ||
  fail "the first dump failed: $(cat "$WORK/dump-old.err")"
untouched victim $((++step))
mkdir "$WORK/small"
old_size=$(image_bytes "$WORK/old.ckpt")
((old_size < 100 * 1024)) || fail "the old image ($old_size bytes) is too big for the tiny disk"
unshare -m --propagation private bash -c '
  mount -t tmpfs -o size=128k tmpfs "$1" || exit 99
  cp "$2" "$1/app.ckpt" || exit 98
  "$3" dump "$4" -o "$1/app.ckpt" --compress none >"$5.out" 2>"$5.err"
  echo $? >"$5.rc"
  cmp -s "$2" "$1/app.ckpt" && echo intact >"$5.old"
  ls -A "$1" >"$5.ls"
' - "$WORK/small" "$WORK/old.ckpt" "$CKPT" "$PID_victim" "$WORK/full"
case $? in
  99) fail "cannot mount a tmpfs in a private mount namespace (unshare -m)" ;;
  98) fail "cannot copy the older image onto the tiny tmpfs" ;;
esac
[[ $(cat "$WORK/full.rc") == 1 ]] || fail "a dump onto a full disk exited $(cat "$WORK/full.rc"): $(cat "$WORK/full.err")"
[[ -s $WORK/full.out ]] && fail "a dump onto a full disk printed on stdout"
(($(wc -l <"$WORK/full.err") == 1)) || fail "a dump onto a full disk: expected one line on stderr: $(cat "$WORK/full.err")"
grep -q 'No space left' "$WORK/full.err" || fail "a dump onto a full disk does not say so: $(cat "$WORK/full.err")"
[[ -f $WORK/full.old ]] || fail "a dump onto a full disk damaged the older image at its path"
[[ $(cat "$WORK/full.ls") == app.ckpt ]] || fail "a dump onto a full disk left files behind: $(cat "$WORK/full.ls")"
log "refused, a full disk: $(cat "$WORK/full.err") (older image intact, no temporary file)"
untouched victim $((++step))

# --- the target killed in the middle of the dump, while it is stopped and
# being read (its pages are copied aside before it runs again, so a kill
# after that no longer touches the dump): ckpt is stopped at the point
# after the memory map and files are read (CKPT_FAULT=stop), the target is
# killed, and ckpt goes on.
start big "$PROGRAMS/bigmem"
wait_lines big 1
CKPT_FAULT=stop CKPT_FAULT_AT="dump: memory map and files read" "$CKPT" dump "$PID_big" -o "$WORK/out/big.ckpt" \
  --compress zstd:19 >"$WORK/mid.out" 2>"$WORK/mid.err" &
dumper=$!
for ((i = 0; i < WAIT_SECONDS * 100; i++)); do
  [[ $(proc_state "$dumper") == T ]] && break
  sleep 0.01
done
[[ $(proc_state "$dumper") == T ]] || fail "ckpt did not stop at 'dump: memory map and files read'"
kill -9 "$PID_big"
kill -CONT "$dumper"
wait "$dumper"
rc=$?
wait "$PID_big" 2>/dev/null
unset "_PIDS[big]"
close_input big
((rc == 1)) || fail "a dump whose target was killed exited $rc: $(cat "$WORK/mid.err")"
(($(wc -l <"$WORK/mid.err") == 1)) || fail "a dump whose target was killed: expected one line: $(cat "$WORK/mid.err")"
grep -qE "(pid|thread) $PID_big|exit" "$WORK/mid.err" || fail "the message does not name the process: $(cat "$WORK/mid.err")"
no_leftovers "$WORK/out" ""
log "refused, the target killed mid-dump: $(cat "$WORK/mid.err")"

# --- ckpt killed with SIGKILL in the middle of a dump.
start big "$PROGRAMS/bigmem"
wait_lines big 1
"$CKPT" dump "$PID_big" -o "$WORK/out/big.ckpt" --compress zstd:19 >/dev/null 2>&1 &
dumper=$!
for ((i = 0; i < 1000; i++)); do
  compgen -G "$WORK/out/big.ckpt.tmp-*" >/dev/null && break
  sleep 0.005
done
kill -9 "$dumper"
wait "$dumper" 2>/dev/null
[[ -e $WORK/out/big.ckpt ]] && fail "ckpt killed mid-dump left a file under the final name"
tmp=$(compgen -G "$WORK/out/big.ckpt.tmp-*" | head -n 1)
if [[ -n $tmp ]]; then
  "$CKPT" verify "$tmp" >/dev/null 2>"$WORK/tmpverify.err" &&
    fail "ckpt verify accepts the temporary file $tmp left by a killed dump"
  log "the killed dump left ${tmp##*/}, which verify refuses: $(cat "$WORK/tmpverify.err")"
else
  log "the killed dump left no temporary file"
fi
for ((i = 0; i < 200; i++)); do
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$PID_big/status") == 0 ]] && break
  sleep 0.01
done
send big more
for ((i = 0; i < 100; i++)); do
  [[ $(wc -l <"$WORK/big.out") -ge 2 || $(proc_state "$PID_big") == gone || $(proc_state "$PID_big") == Z ]] && break
  sleep 0.05
done
if [[ $(proc_state "$PID_big") == gone || $(proc_state "$PID_big") == Z ]]; then
  wait "$PID_big" 2>/dev/null
  st=$?
  unset "_PIDS[big]"
  ((st == 128 + 5)) &&
    fail "the target died of SIGTRAP once the killed dumper's ptrace was gone: the single-step of syscall"          "injection (PTRACE_SINGLESTEP) stayed armed; only PTRACE_DETACH disarms it, not the tracer's death"
  fail "the target died (wait status $st) after the dumper was killed"
fi
wait_lines big 2
untouched big 3

# --- ckpt killed while a system call is injected: at the 2nd call's set-up,
# entry and exit stops, while a batch of calls runs and once it is done,
# and at each step of putting the thread back.
CKPT_FAULT=trace "$CKPT" dump "$PID_victim" -o "$WORK/out/trace.ckpt" >/dev/null 2>"$WORK/trace.err" ||
  fail "a traced dump failed: $(grep -v '^ckpt fault point' "$WORK/trace.err" | head -n 3)"
rm -f "$WORK/out/trace.ckpt"
untouched victim $((++step))
mapfile -t kill_at < <(awk -F'[ :]+' '
  /inject: registers set/ && ++set == 2 {print $4}
  /inject: signals blocked/ {print $4}
  /at the system call.s entry/ && ++entry == 2 {print $4}
  /at the system call.s exit/ && ++exit_ == 2 {print $4}
  /inject: batch (set up|done)/ {print $4}
  /restore: (interrupt queued|signal mask put back|registers put back|stack bytes put back)/ {print $4}
' "$WORK/trace.err")
((${#kill_at[@]} >= 9)) || fail "the traced dump shows only ${#kill_at[@]} injection kill points: $(head -n 20 "$WORK/trace.err")"
for n in "${kill_at[@]}"; do
  what=$(grep "^ckpt fault point $n: " "$WORK/trace.err" | cut -d: -f2-)
  (CKPT_FAULT=kill CKPT_FAULT_AT=$n "$CKPT" dump "$PID_victim" -o "$WORK/out/k.ckpt" >/dev/null 2>&1
   echo $? >"$WORK/k.rc") 2>/dev/null
  [[ $(cat "$WORK/k.rc") == 137 ]] || fail "ckpt was not killed at fault point $n ($what): exit $(cat "$WORK/k.rc")"
  for ((i = 0; i < 200; i++)); do
    [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$PID_victim/status" 2>/dev/null) == 0 ]] && break
    sleep 0.01
  done
  [[ $(proc_state "$PID_victim") == gone ]] &&
    fail "the target died when ckpt was killed at fault point $n ($what) of syscall injection"
  untouched victim $((++step))
  rm -f "$WORK"/out/k.ckpt*
  log "ckpt killed at fault point $n ($what): the target carries on"
done
log "PASS"

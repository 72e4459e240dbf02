#!/usr/bin/env bash
# A process holding files of its own /proc directory (redis reads its
# /proc/PID/stat through an fd it keeps open a moment; closefrom-style code
# walks /proc/self/fd): the dump names them under /proc/self, and the
# restored process holds its *own* files there, as if it had opened them
# itself: /proc/PID/stat says the restored pid, the /proc/PID/fd directory
# lists the restored fds, and a read-write /proc/self/comm renames the
# restored process. Before, restore refused ("the file is missing", the
# original's /proc/PID being gone). The same fds in a process of the tree
# other than its root are refused at dump, naming the fd and why (that
# member's launcher cannot open them as its own), and so is a file of one
# thread's directory (/proc/PID/task/TID/...).
source "$(dirname "$0")/lib.sh"
PYTHON=/usr/bin/python3

PROG='
import os, sys
stat = open("/proc/self/stat")            # a regular file of its own
fds = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
comm = os.open("/proc/self/comm", os.O_RDWR)
stat.read(10)                             # an offset in the generated text
print("ready", stat.fileno(), fds, comm, flush=True)
for line in sys.stdin:
    stat.seek(0)
    me = int(stat.read().split()[0])
    listed = sorted(int(n) for n in os.listdir(fds))
    os.write(comm, b"renamed")
    with open("/proc/%d/comm" % os.getpid()) as c:
        name = c.read().strip()
    print("pid", os.getpid(), "stat", me, "fds", listed, "comm", name, flush=True)
'

start orig "$PYTHON" -u -c "$PROG"
wait_lines orig 1
read -r _ sfd dfd cfd <"$WORK/orig.out"
pid=$(pid_of orig)
[[ $(readlink "/proc/$pid/fd/$sfd") == "/proc/$pid/stat" ]] || fail "fd $sfd is not /proc/$pid/stat"
dump orig "$WORK/proc.ckpt"
"$CKPT" inspect "$WORK/proc.ckpt" --json >"$WORK/inspect.json" || fail "ckpt inspect failed"
grep -q '"/proc/self/stat"' "$WORK/inspect.json" || fail "the image does not name /proc/self/stat: $(cat "$WORK/inspect.json")"
restore_start back "$WORK/proc.ckpt"
send back go
wait_lines back 1
got=$(sed -n 1p "$WORK/back.out")
bpid=$(pid_of back)
want="pid $bpid stat $bpid fds "
[[ $got == "$want"* ]] || fail "after restore: '$got', expected it to start with '$want'"
for fd in 0 1 2 "$sfd" "$dfd" "$cfd"; do
  grep -Eq "[[ ]$fd[],]" <<<"${got#*fds }" || fail "the restored /proc/self/fd listing lacks fd $fd: $got"
done
[[ $got == *"comm renamed" ]] || fail "writing the restored /proc/self/comm did not rename the restored process: $got"
close_input back
wait_exit back 0
log "after restore: $got"

# The refusals: a child of the tree holding its own /proc file, and the root
# holding a file of one of its threads' directories.
for kind in child thread; do
  HOLDER='
import os, sys, threading, time
kind = sys.argv[1]
if kind == "child":
    if os.fork() == 0:
        f = open("/proc/self/stat")
        print("ready", f.fileno(), os.getpid(), flush=True)
        time.sleep(600)
else:
    ready = threading.Event()
    def run():
        global f
        f = open("/proc/self/task/%d/stat" % threading.get_native_id())
        ready.set()
        time.sleep(600)
    threading.Thread(target=run, daemon=True).start()
    ready.wait()
    print("ready", f.fileno(), os.getpid(), flush=True)
sys.stdin.read()
'
  start "$kind" "$PYTHON" -u -c "$HOLDER" "$kind"
  wait_lines "$kind" 1
  read -r _ fd holder <"$WORK/$kind.out"
  pid=$(pid_of "$kind")
  "$CKPT" dump "$pid" -o "$WORK/$kind.ckpt" --kill >"$WORK/dump-$kind.out" 2>"$WORK/dump-$kind.err" &&
    fail "ckpt dump of a $kind holding its own /proc file succeeded"
  [[ $(wc -l <"$WORK/dump-$kind.err") == 1 ]] || fail "the refusal is not one line: $(cat "$WORK/dump-$kind.err")"
  grep -q "pid $holder.*fd $fd.*/proc" "$WORK/dump-$kind.err" ||
    fail "the refusal does not name pid $holder and fd $fd: $(cat "$WORK/dump-$kind.err")"
  [[ -e $WORK/$kind.ckpt ]] && fail "a refused dump left an image"
  [[ $(proc_state "$pid") == S ]] || fail "the $kind holder is not running on after the refused dump"
  log "$kind refused: $(cat "$WORK/dump-$kind.err")"
  [[ $kind == child ]] && kill -9 "$holder"
  close_input "$kind"
  wait_exit "$kind" any
done
log PASS

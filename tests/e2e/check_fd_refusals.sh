#!/usr/bin/env bash
# Descriptors ckpt cannot restore are refused at dump time, cleanly: for a
# process holding a unix socketpair with a descriptor in flight (SCM_RIGHTS
# sent and not yet received: not carried), a fanotify instance, a pty master
# (/dev/ptmx) or a pty slave (/dev/pts/N,
# its master held elsewhere), `ckpt dump` must exit 1 with exactly one line
# on stderr that names the fd number and its kind, leave no image (nor a
# temporary file) behind, and leave the process running untraced: it still
# answers on its stdin afterwards.  The kind must be said in words: in
# some containers the slave reads as "/dev/pts/N (deleted)", and it must
# still be refused as a tty, not saved as a deleted file.
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
# The holder opens one kind of fd, prints "ready FD", then echoes each
# stdin line as "echo LINE".  For "pts" a child keeps the master open (and
# dies with its parent, PR_SET_PDEATHSIG) so that the slave stays a live
# tty; the holder itself keeps only the slave.
HOLDER='
import ctypes, os, socket, sys
kind = sys.argv[1]
keep = []
if kind == "socketpair":
    a, b = socket.socketpair(); socket.send_fds(b, [b"x"], [0]); keep += [a, b]; fd = a.fileno()
elif kind == "fanotify":
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.fanotify_init(0, 0)  # FAN_CLASS_NOTIF; needs CAP_SYS_ADMIN
    if fd < 0:
        sys.exit("fanotify: errno %d" % ctypes.get_errno())
elif kind == "ptmx":
    fd = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY)
elif kind == "pts":
    master, fd = os.openpty()
    child = os.fork()
    if child == 0:
        ctypes.CDLL(None).prctl(1, 9)  # PR_SET_PDEATHSIG, SIGKILL
        os.closerange(0, master); os.closerange(master + 1, 1024)
        while True:
            os.pause()
    os.close(master)
    print("helper", child, flush=True)
print("ready", fd, flush=True)
for line in sys.stdin:
    print("echo", line.strip(), flush=True)
'

# kind  |  what the one line must say about it (extended regex, any case)
cases=(
  'socketpair|socket'
  'fanotify|fanotify'
  'ptmx|tty|pty|terminal'
  'pts|tty|pty|terminal'
)

for c in "${cases[@]}"; do
  kind=${c%%|*}
  words=${c#*|}
  start "$kind" "$PYTHON" -u -c "$HOLDER" "$kind"
  wait_lines "$kind" 1
  ready=$(grep '^ready ' "$WORK/$kind.out") || fail "$kind holder did not print 'ready FD'"
  fd=${ready#ready }
  helper=$(awk '$1 == "helper" {print $2}' "$WORK/$kind.out")
  pid=$(pid_of "$kind")
  target=$(readlink "/proc/$pid/fd/$fd")
  # Which file the fd is, by device and inode: the name is not stable (a
  # pts slave's may gain " (deleted)" while it is open).
  ident=$(stat -L -c '%d %i %t:%T' "/proc/$pid/fd/$fd")
  img="$WORK/$kind.ckpt"

  "$CKPT" dump "$pid" -o "$img" --compress "$COMPRESS" >"$WORK/dump-$kind.out" 2>"$WORK/dump-$kind.err"
  rc=$?
  ((rc == 1)) || fail "ckpt dump of a process with fd $fd ($kind, $target) exited $rc, expected 1"
  nlines=$(wc -l <"$WORK/dump-$kind.err")
  ((nlines == 1)) || fail "ckpt dump ($kind) printed $nlines lines on stderr, expected exactly one"
  msg=$(cat "$WORK/dump-$kind.err")
  grep -Eq "(^|[^0-9])$fd([^0-9]|$)" <<<"$msg" || fail "the refusal for $kind does not name fd $fd: $msg"
  grep -Eiq "$words" <<<"$msg" || fail "the refusal for fd $fd does not say its kind ($words): $msg"
  [[ -e $img ]] && fail "a refused dump ($kind) left an image at $img"
  compgen -G "$img.tmp*" >/dev/null && fail "a refused dump ($kind) left a temporary file: $(ls "$img".tmp*)"

  state=$(proc_state "$pid")
  [[ $state == S || $state == R ]] || fail "$kind holder (pid $pid) is in state '$state' after the refused dump"
  tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status")
  [[ $tracer == 0 ]] || fail "$kind holder (pid $pid) is still traced by $tracer after the refused dump"
  [[ $(stat -L -c '%d %i %t:%T' "/proc/$pid/fd/$fd" 2>&1) == "$ident" ]] || fail "$kind holder lost its fd $fd ($target)"
  have=$(wc -l <"$WORK/$kind.out")
  send "$kind" "still-there"
  wait_lines "$kind" $((have + 1))
  tail -n 1 "$WORK/$kind.out" | grep -qx 'echo still-there' ||
    fail "$kind holder did not answer after the refused dump"
  close_input "$kind"
  wait_exit "$kind" 0
  # The pty master's keeper dies with the holder; make sure of it.
  [[ -n $helper ]] && kill -9 "$helper" 2>/dev/null
  log "$kind: refused as expected: $msg"
done
log "PASS"

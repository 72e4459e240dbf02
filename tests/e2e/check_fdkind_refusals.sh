#!/usr/bin/env bash
# Deleted files and inotify queues ckpt will not carry are refused at dump time, naming the fd,
# in one line, with the process left running and untraced:
#   devnode    a device node (mknod c 1 3) deleted while open: ckpt does not
#              recreate device nodes (restore used to refuse it instead)
#   setuid     a deleted file with mode 4755: set-id bits are not recreated
#   writeonly  a process running as nobody holds a write-only fd on a
#              root-owned file of mode 0622 (it may write, not read), which
#              is then deleted: a root dumper must not copy contents the
#              process itself could not read (issue 16). Its control,
#              the same with mode 0666, dumps and carries the contents.
#   inotify    an inotify fd with unread events in its queue: the events
#              are not carried, so the dump refuses (naming fd and count)
#   bigwd      an inotify watch whose wd is above kMaxInotifyWd (2^18): restore
#              could only reach it through as many dummy watches, so the
#              dump refuses (naming fd and wd)
# Needs root (mknod, a process of another user); says so and fails otherwise.
source "$(dirname "$0")/lib.sh"

((EUID == 0)) || fail "needs root (mknod, setpriv to nobody); run as root"
PYTHON=/usr/bin/python3
# The holder opens argv[1] with os.open flags argv[2], prints "ready FD",
# deletes the path when argv[3] == "unlink" (else the test does), then
# echoes each stdin line.
HOLDER='
import os, sys
fd = os.open(sys.argv[1], int(sys.argv[2]))
if sys.argv[3] == "unlink":
    os.unlink(sys.argv[1])
print("ready", fd, flush=True)
for line in sys.stdin:
    print("echo", line.strip(), flush=True)
'
D=$(mktemp -d /tmp/ckpt-delref.XXXXXX)
chmod 0755 "$D"
trap 'rm -rf "$D"' EXIT

refused() {  # NAME WORDS: the dump of holder NAME must be refused naming its fd and WORDS
  local name=$1 words=$2
  wait_lines "$name" 1
  local fd pid img="$WORK/$name.ckpt"
  fd=$(awk '$1 == "ready" {print $2}' "$WORK/$name.out")
  pid=$(pid_of "$name")
  "$CKPT" dump "$pid" -o "$img" --compress "$COMPRESS" >"$WORK/dump-$name.out" 2>"$WORK/dump-$name.err"
  local rc=$?
  ((rc == 1)) || fail "ckpt dump ($name) exited $rc, expected 1"
  (($(wc -l <"$WORK/dump-$name.err") == 1)) || fail "ckpt dump ($name) did not print exactly one line"
  local msg
  msg=$(cat "$WORK/dump-$name.err")
  grep -Eq "fd $fd([^0-9]|$)" <<<"$msg" || fail "the refusal ($name) does not name fd $fd: $msg"
  grep -Eiq "$words" <<<"$msg" || fail "the refusal ($name) does not say why ($words): $msg"
  [[ -e $img ]] && fail "a refused dump ($name) left an image"
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status") == 0 ]] || fail "$name still traced after the refusal"
  send "$name" "still-there"
  wait_lines "$name" 2
  tail -n 1 "$WORK/$name.out" | grep -qx 'echo still-there' || fail "$name did not answer after the refused dump"
  close_input "$name"
  wait_exit "$name" 0
  log "$name: refused as expected: $msg"
}

mknod "$D/null" c 1 3
start devnode "$PYTHON" -u -c "$HOLDER" "$D/null" 2 unlink  # O_RDWR
refused devnode 'device node'

printf 'x' >"$D/suid"
chmod 4755 "$D/suid"
start setuid "$PYTHON" -u -c "$HOLDER" "$D/suid" 0 unlink  # O_RDONLY
refused setuid 'set-user-id'

# Written by root; the holder (nobody) may write it but not read it.
for mode in 0622 0666; do
  printf 'SECRET-%s-CONTENTS' "$mode" >"$D/log$mode"
  chmod "$mode" "$D/log$mode"
done
start writeonly setpriv --reuid=65534 --regid=65534 --clear-groups "$PYTHON" -u -c "$HOLDER" "$D/log0622" $((0x401)) keep
wait_lines writeonly 1
rm "$D/log0622"
refused writeonly 'could not read'

start readable setpriv --reuid=65534 --regid=65534 --clear-groups "$PYTHON" -u -c "$HOLDER" "$D/log0666" $((0x401)) keep
wait_lines readable 1
rm "$D/log0666"
"$CKPT" dump "$(pid_of readable)" -o "$WORK/readable.ckpt" --compress none >"$WORK/dump-readable.out" 2>"$WORK/dump-readable.err" ||
  fail "the control (mode 0666, readable by its process) was refused: $(cat "$WORK/dump-readable.err")"
grep -q 'SECRET-0666-CONTENTS' "$WORK/readable.ckpt" || fail "the control's image does not carry the deleted file's contents"
close_input readable
wait_exit readable 0
INOTIFY='
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(0)
if fd < 0 or libc.inotify_add_watch(fd, sys.argv[1].encode(), 0x100) != 1:  # IN_CREATE
    sys.exit("inotify: errno %d" % ctypes.get_errno())
open(sys.argv[1] + "/made", "w").close()  # one IN_CREATE event, left unread
print("ready", fd, flush=True)
for line in sys.stdin:
    print("echo", line.strip(), flush=True)
'
mkdir "$D/watched"
start inotify "$PYTHON" -u -c "$INOTIFY" "$D/watched"
refused inotify 'unread events'

BIGWD='
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = libc.inotify_init1(os.O_NONBLOCK)
add, rm, path = libc.inotify_add_watch, libc.inotify_rm_watch, sys.argv[1].encode()
def drain():  # each removal queued an IN_IGNORED event
    try:
        while os.read(fd, 1 << 20):
            pass
    except BlockingIOError:
        pass
for i in range(1 << 18):  # each add takes the next wd
    rm(fd, add(fd, path, 0x100))
    if i % 4096 == 0:
        drain()
wd = add(fd, path, 0x100)
drain()
print("ready", fd, wd, flush=True)
for line in sys.stdin:
    print("echo", line.strip(), flush=True)
'
start bigwd "$PYTHON" -u -c "$BIGWD" "$D/watched"
WAIT_SECONDS=120 wait_lines bigwd 1
refused bigwd 'wd [0-9]+: restore recreates wds up to'
log "PASS"

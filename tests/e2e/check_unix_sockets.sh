#!/usr/bin/env bash
# Unix sockets beyond what the state_unix_* programs check:
#   - a dump without --kill changes nothing: the original state_unix_pair
#     still passes its own check afterwards (its unread data was peeked,
#     not consumed, and its SO_PEEK_OFF put back), and so does its image;
#   - what cannot come back exactly is refused by `ckpt dump --kill`, one
#     line naming the fd and why, and the target keeps running:
#     descriptors in flight (SCM_RIGHTS), a peer in another process, a
#     connection still queued on another process's listener, a datagram
#     from a sender in another process, a peer already closed, data sent on
#     a connection its listener has not accepted, a message whose
#     credentials (SCM_CREDENTIALS) are another process's;
#   - --ignore-fds leaves such a socket out together with the sockets that
#     lean on it (its peer);
#   - with --inherit-outside-sockets a socket connected to another process
#     is saved as an outside end: restore refuses it without --inherit-fd N,
#     and with a new connection on fd N the restored client talks to the
#     server through it;
#   - restore (and restore --check) refuses, before anything else, an
#     image whose names are taken here (the original still runs), and
#     restores it once the original is gone (its stale socket files
#     removed; a stale socket file that is not the original's is refused);
#   - corrupt unix_sockets records (image_edit) are refused with one line
#     by restore, restore --check and ckpt verify; what only this machine
#     can tell (a directory missing, a buffer size no caller can set) by
#     restore --check.
source "$(dirname "$0")/lib.sh"

EDIT="$PROGRAMS/../tools/image_edit"
[[ -x $EDIT ]] || fail "image_edit not built at $EDIT"
PYTHON=/usr/bin/python3

# --- a live dump leaves the original as it was ---------------------------
start live "$PROGRAMS/state_unix_pair"
wait_lines live 1
dump_live live "$WORK/live.ckpt"
send live check
close_input live
wait_exit live any
grep -q '^PASS' "$WORK/live.out" && ((EXIT_STATUS == 0)) ||
  fail "the original state_unix_pair failed its check after a live dump: $(grep FAIL "$WORK/live.out" | head -n 3)"
restored_must_pass "$WORK/live.ckpt" state_unix_pair
log "a live dump left the original's queues and SO_PEEK_OFF intact"

# --- refusals at dump ------------------------------------------------------
# refused NAME PATTERN PROGRAM: a python3 PROGRAM prints "ready FD" once set
# up; ckpt dump --kill must exit 1 with one line naming fd FD and PATTERN,
# and leave it running.
refused() {
  local name=$1 pattern=$2 prog=$3 pid fd rc
  start "$name" "$PYTHON" -c "$prog" "$WORK"
  wait_lines "$name" 1
  read -r _ fd <"$WORK/$name.out"
  pid=$(pid_of "$name")
  "$CKPT" dump "$pid" -o "$WORK/$name.ckpt" --kill >"$WORK/$name.dump.out" 2>"$WORK/$name.dump.err"
  rc=$?
  ((rc == 1)) || fail "$name: ckpt dump exited $rc, want 1: $(cat "$WORK/$name.dump.err")"
  (($(wc -l <"$WORK/$name.dump.err") == 1)) || fail "$name: not one line: $(cat "$WORK/$name.dump.err")"
  grep -qE "cannot dump fd $fd: unix socket: .*$pattern" "$WORK/$name.dump.err" ||
    fail "$name: ckpt dump did not say fd $fd /$pattern/: $(cat "$WORK/$name.dump.err")"
  [[ -e $WORK/$name.ckpt ]] && fail "$name: an image was written"
  kill -0 "$pid" 2>/dev/null || fail "$name: the refused target was killed"
  log "$name: $(cat "$WORK/$name.dump.err")"
}

refused scm_rights "SCM_RIGHTS in flight" '
import socket, sys
a, b = socket.socketpair()
socket.send_fds(a, [b"x"], [0])
print("ready", b.fileno(), flush=True)
sys.stdin.readline()'

# A server in one process, its client in another.
start server "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1] + "/srv.sock")
s.listen(4)
print("ready", flush=True)
c, _ = s.accept()
print("accepted", c.fileno(), flush=True)
sys.stdin.readline()' "$WORK"
wait_lines server 1
refused outside_peer "connected to socket:\[[0-9]+\] $WORK/srv.sock, outside the dumped processes" '
import socket, sys
c = socket.socket(socket.AF_UNIX)
c.connect(sys.argv[1] + "/srv.sock")
print("ready", c.fileno(), flush=True)
sys.stdin.readline()'
wait_lines server 2
refused outside_queued "connecting to socket:\[[0-9]+\] $WORK/srv.sock \(not yet accepted\), outside" '
import socket, sys
c = socket.socket(socket.AF_UNIX)
c.connect(sys.argv[1] + "/srv.sock")
print("ready", c.fileno(), flush=True)
sys.stdin.readline()'

# --inherit-outside-sockets: the same kind of client is saved with its
# socket as an outside end, and restored with --inherit-fd N standing in:
# a new connection to the same server, made by the caller.
start echo "$PYTHON" -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1] + "/echo.sock")
s.listen(4)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    try:
        data = c.recv(100)
        if data:
            c.send(b"echo " + data)
    except OSError:
        pass
    c.close()' "$WORK"
wait_lines echo 1
start client "$PYTHON" -c '
import socket, sys
c = socket.socket(socket.AF_UNIX)
c.connect(sys.argv[1] + "/echo.sock")
print("ready", c.fileno(), flush=True)
sys.stdin.readline()
c.send(b"ping")
print(c.recv(100).decode(), flush=True)' "$WORK"
wait_lines client 1
read -r _ cfd <"$WORK/client.out"
PID_client=$(pid_of client)
"$CKPT" dump "$PID_client" -o "$WORK/inherit.ckpt" --kill --inherit-outside-sockets >/dev/null 2>"$WORK/inherit.dump.err" ||
  fail "ckpt dump --inherit-outside-sockets failed: $(cat "$WORK/inherit.dump.err")"
grep -q "warning: fd $cfd is a unix socket (socket:\[[0-9]*\]) connected outside the dumped processes: restore it with \`restore --inherit-fd $cfd" \
  "$WORK/inherit.dump.err" || fail "no warning naming fd $cfd: $(cat "$WORK/inherit.dump.err")"
wait_gone client
"$CKPT" inspect "$WORK/inherit.ckpt" >"$WORK/inherit.inspect" || fail "ckpt inspect failed"
grep -q "^outside socket: fd $cfd " "$WORK/inherit.inspect" || fail "ckpt inspect does not list the outside socket"
"$RESTORE" --check "$WORK/inherit.ckpt" 2>"$WORK/noinherit.err" && fail "restore --check accepted an outside socket without --inherit-fd"
grep -q "fd $cfd (unix-socket socket:\[[0-9]*\]): its peer was outside the dumped processes; pass --inherit-fd $cfd" \
  "$WORK/noinherit.err" || fail "noinherit: $(cat "$WORK/noinherit.err")"
( eval "exec $cfd</dev/null"; exec "$RESTORE" --check --inherit-fd "$cfd" "$WORK/inherit.ckpt" ) 2>"$WORK/notsock.err" &&
  fail "restore --check took /dev/null for a socket"
grep -q "restore's fd $cfd is not a socket" "$WORK/notsock.err" || fail "notsock: $(cat "$WORK/notsock.err")"
_spawn back2 "$PYTHON" -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
n = int(sys.argv[2])
os.dup2(os.dup(s.fileno()), n)
os.execv(sys.argv[3], [sys.argv[3], "--inherit-fd", str(n), sys.argv[4]])' "$WORK/echo.sock" "$cfd" "$RESTORE" "$WORK/inherit.ckpt"
send back2 go
close_input back2
wait_exit back2 0
grep -qx "echo ping" "$WORK/back2.out" || fail "the restored client did not talk through its stand-in: $(cat "$WORK/back2.out" "$WORK/back2.err")"
log "--inherit-outside-sockets: the restored client got '$(cat "$WORK/back2.out")' through --inherit-fd $cfd"

start sender "$PYTHON" -c '
import socket, sys, os
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0ckpt-test-sender-" + sys.argv[1].replace("/", "-"))
print("ready", flush=True)
sys.stdin.readline()
s.sendto(b"from outside", "\0ckpt-test-recv-" + sys.argv[1].replace("/", "-"))
print("sent", flush=True)
sys.stdin.readline()' "$WORK"
wait_lines sender 1
start receiver "$PYTHON" -c '
import socket, sys
r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
r.bind("\0ckpt-test-recv-" + sys.argv[1].replace("/", "-"))
print("ready", r.fileno(), flush=True)
sys.stdin.readline()' "$WORK"
wait_lines receiver 1
send sender go
wait_lines sender 2
pid=$(pid_of receiver)
read -r _ fd <"$WORK/receiver.out"
"$CKPT" dump "$pid" -o "$WORK/receiver.ckpt" --kill 2>"$WORK/receiver.dump.err" && fail "a datagram from outside was dumped"
grep -q "cannot dump fd $fd: unix socket: a queued datagram came from @ckpt-test-sender-.*which no socket of the dumped processes is bound to" \
  "$WORK/receiver.dump.err" || fail "outside sender: $(cat "$WORK/receiver.dump.err")"
log "outside-sender: $(cat "$WORK/receiver.dump.err")"

refused other_sender "was sent by pid [0-9]+ .*not by a dumped process" '
import socket, sys, os
a, b = socket.socketpair()
b.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
child = os.fork()
if child == 0:
    a.send(b"from a child since gone")
    os._exit(0)
os.waitpid(child, 0)
print("ready", b.fileno(), flush=True)
sys.stdin.readline()'

# (A socket pair whose other end is in a child is carried: e2e.check_tree_unix_sockets.)

refused peer_closed "its peer has closed" '
import socket, sys
a, b = socket.socketpair()
b.close()
print("ready", a.fileno(), flush=True)
sys.stdin.readline()'

refused queued_data "holds data its client sent before it was accepted" '
import socket, sys
l = socket.socket(socket.AF_UNIX)
l.bind("\0ckpt-test-queued-" + sys.argv[1].replace("/", "-"))
l.listen(2)
c = socket.socket(socket.AF_UNIX)
c.connect("\0ckpt-test-queued-" + sys.argv[1].replace("/", "-"))
c.send(b"early")
print("ready", l.fileno(), flush=True)
sys.stdin.readline()'

# --ignore-fds: the socket with descriptors in flight and its peer go.
pid=$(pid_of scm_rights)
"$CKPT" dump "$pid" -o "$WORK/ignored.ckpt" --ignore-fds >"$WORK/ignored.out" 2>"$WORK/ignored.err" ||
  fail "ckpt dump --ignore-fds failed: $(cat "$WORK/ignored.err")"
(($(grep -c 'left out fd .*unix socket' "$WORK/ignored.err") == 2)) ||
  fail "--ignore-fds did not leave out both ends: $(cat "$WORK/ignored.err")"
"$CKPT" inspect "$WORK/ignored.ckpt" >"$WORK/ignored.inspect" || fail "ckpt inspect failed"
grep -q 'unix socket #' "$WORK/ignored.inspect" && fail "--ignore-fds kept a socket record"
log "--ignore-fds: $(tr '\n' ' ' <"$WORK/ignored.err")"

# --- names taken at restore -------------------------------------------------
BASE='
import socket, sys, os
w = sys.argv[1]
a, b = socket.socketpair()
a.send(b"pair data")
l = socket.socket(socket.AF_UNIX)
l.bind(w + "/l.sock")
l.listen(3)
c = socket.socket(socket.AF_UNIX)
c.connect(w + "/l.sock")
r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
r.bind("\0ckpt-test-r-" + w.replace("/", "-"))
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(w + "/s.sock")
s.sendto(b"hi", "\0ckpt-test-r-" + w.replace("/", "-"))
print("ready", flush=True)
sys.stdin.readline()
x, _ = l.accept()
c.send(b"after")
print(b.recv(100), r.recvfrom(100), x.recv(100), flush=True)'
start base "$PYTHON" -c "$BASE" "$WORK"
wait_lines base 1
dump_live base "$WORK/base.ckpt"
for check in --check ""; do
  "$RESTORE" $check "$WORK/base.ckpt" </dev/null >"$WORK/taken.out" 2>"$WORK/taken.err" && fail "restore $check took names in use"
  (($(wc -l <"$WORK/taken.err") == 1)) || fail "restore $check: not one line: $(cat "$WORK/taken.err")"
  grep -qE "unix (stream|dgram) socket [0-9]+ \(.*\): (its path is bound by a live socket|cannot bind its abstract name here)" \
    "$WORK/taken.err" || fail "restore $check: $(cat "$WORK/taken.err")"
  log "names in use, restore $check: $(cat "$WORK/taken.err")"
done
kill -9 "$(pid_of base)"
wait_exit base any
[[ -S $WORK/l.sock && -S $WORK/s.sock ]] || fail "the original's socket files are not there (stale) to test their removal"
# A stale socket file that is not the original's own is left alone: refused.
listener=$("$CKPT" inspect "$WORK/base.ckpt" | grep "^unix socket #.* listening" | sed 's/^unix socket #\([0-9]*\) .*/\1/')
"$EDIT" "$WORK/base.ckpt" "$WORK/otherfile.ckpt" "unix=$listener:file_ino:12345" || fail "image_edit failed"
"$RESTORE" --check "$WORK/otherfile.ckpt" 2>"$WORK/otherfile.err" && fail "another stale socket file would be removed"
grep -q "its path holds a socket file that is not the one it was bound to" "$WORK/otherfile.err" ||
  fail "otherfile: $(cat "$WORK/otherfile.err")"
log "otherfile: $(cat "$WORK/otherfile.err")"
restore_start back "$WORK/base.ckpt"
send back go
close_input back
wait_exit back 0
grep -qF "b'pair data' (b'hi', '$WORK/s.sock') b'after'" "$WORK/back.out" ||
  fail "the restored sockets did not give back their data: $(cat "$WORK/back.out")"
log "restored over stale socket files: $(cat "$WORK/back.out")"
# The restored copy's own socket files are left behind like any server's;
# the checks below must find the paths free.
rm -f "$WORK/l.sock" "$WORK/s.sock"

# --- corrupt records -----------------------------------------------------------
"$CKPT" inspect "$WORK/base.ckpt" >"$WORK/base.inspect" || fail "ckpt inspect failed"
record() { grep -F "$1" "$WORK/base.inspect" | grep "^unix socket #" | head -n 1 | sed 's/^unix socket #\([0-9]*\) .*/\1/'; }
pair=$(record "stream connected (unnamed) peer")
dgram=$(record "dgram unconnected $WORK/s.sock")
recv=$(record "dgram unconnected @")
listener=$(record "listening")
[[ -n $pair && -n $dgram && -n $recv && -n $listener ]] || fail "records not found: $(grep '^unix' "$WORK/base.inspect")"
bad() {
  local name=$1 pattern=$2 rc; shift 2
  "$EDIT" "$WORK/base.ckpt" "$WORK/$name.ckpt" "$@" || fail "image_edit $* failed"
  for cmd in "$RESTORE" "$RESTORE --check" "$CKPT verify"; do
    $cmd "$WORK/$name.ckpt" </dev/null >"$WORK/$name.out" 2>"$WORK/$name.err"
    rc=$?
    ((rc == 1)) || fail "$name: $cmd exited $rc, want 1: $(cat "$WORK/$name.err")"
    (($(wc -l <"$WORK/$name.err") == 1)) || fail "$name: $cmd: not one line: $(cat "$WORK/$name.err")"
    grep -qE "$pattern" "$WORK/$name.err" || fail "$name: $cmd did not say /$pattern/: $(cat "$WORK/$name.err")"
  done
  log "$name: $(cat "$WORK/$name.err")"
}
bad type "unknown unix socket type 7" "unix=$pair:type:7"
bad state "unknown unix socket state 9" "unix=$pair:state:9"
bad peer "its peer 99999 has no record" "unix=$pair:peer:99999"
bad shutdown "unknown shutdown bits" "unix=$pair:shutdown:4"
bad peek-off "negative option value" "unix=$pair:peek_off:-5"
bad duplicate "sorted and unique" "unix=$dgram:ino_of:$recv"
bad no-record "which has no record" "unix=$pair:drop:1"
bad same-name "bind the same name" "unix=$dgram:name:$WORK/l.sock"
bad sender "which no datagram socket of the image binds" "unix=$recv:sender:@nobody"
bad queue "its queue names a socket that is not queued on it" "unix=$listener:queue_add:77"
bad listener-messages "unread data on a stream socket that is not connected" "unix=$listener:messages:2"
bad name-long "invalid name" "unix=$recv:name:/$(printf 'a%.0s' {1..107})"
bad unlinked-abstract "file attributes on a socket without a path" "unix=$recv:unlinked:1"
bad backlog "backlog or queue on a socket that is not listening" "unix=$dgram:backlog:5"
# The queued connection's client: the one whose peer id is 2^32 + its inode.
client=$(awk '/^unix socket #/ && / stream connected / { for (i = 1; i < NF; i++) if ($i == "peer" && $(i + 1) + 0 >= 4294967296) { sub("#", "", $3); print $3; exit } }' "$WORK/base.inspect")
[[ -n $client ]] || fail "the queued connection's client is not found: $(grep '^unix' "$WORK/base.inspect")"
bad client-data "unread data from a connection not yet accepted" "unix=$client:messages:1"
# Passes validation, refused by restore's checks (before anything is made).
"$EDIT" "$WORK/base.ckpt" "$WORK/nodir.ckpt" "unix=$recv:name:/nonexistent-ckpt-dir/r.sock" || fail "image_edit failed"
"$RESTORE" --check "$WORK/nodir.ckpt" 2>"$WORK/nodir.err" && fail "a path in a missing directory passed restore --check"
grep -q "the directory of its path is missing" "$WORK/nodir.err" || fail "nodir: $(cat "$WORK/nodir.err")"
log "nodir: $(cat "$WORK/nodir.err")"
# A listen backlog above this machine's net.core.somaxconn (read only when
# a listening socket is checked): restore and restore --check refuse it.
max=$(cat /proc/sys/net/core/somaxconn)
"$EDIT" "$WORK/base.ckpt" "$WORK/bigbacklog.ckpt" "unix=$listener:backlog:$((max + 1))" || fail "image_edit failed"
for cmd in "$RESTORE" "$RESTORE --check"; do
  $cmd "$WORK/bigbacklog.ckpt" </dev/null >/dev/null 2>"$WORK/bigbacklog.err" && fail "a backlog above somaxconn passed $cmd"
  grep -q "is above this machine's net.core.somaxconn $max" "$WORK/bigbacklog.err" || fail "bigbacklog: $cmd: $(cat "$WORK/bigbacklog.err")"
done
log "bigbacklog: $(cat "$WORK/bigbacklog.err")"
# An odd SO_SNDBUF: the kernel stores twice what it is given, so no caller
# can make it; restore --check finds that on a scratch socket.
"$EDIT" "$WORK/base.ckpt" "$WORK/oddbuf.ckpt" "unix=$pair:sndbuf:12345" || fail "image_edit failed"
"$RESTORE" --check "$WORK/oddbuf.ckpt" 2>"$WORK/oddbuf.err" && fail "an odd SO_SNDBUF passed restore --check"
grep -q "cannot make SO_SNDBUF 12345 here" "$WORK/oddbuf.err" || fail "oddbuf: $(cat "$WORK/oddbuf.err")"
log "oddbuf: $(cat "$WORK/oddbuf.err")"

#!/usr/bin/env bash
# `ckpt dump --ignore-fds` leaves out exactly the fds it would otherwise
# refuse, and says so: one warning line per fd left out, naming the fd and
# its kind. Everything it can carry is still carried.
#
# A python3 holder opens a unix socketpair with a descriptor in flight to
# one end (refused; the other end goes with it: two fds, and a dup of one: an
# open file is left out with all its fd numbers), a pty (master and
# slave: terminals), an inotify instance, a regular file read up to an
# offset, a pipe (both ends inside) and an epoll set watching one socket
# and the pipe's read end. It is dumped with --kill --ignore-fds and
# restored; from inside, the restored holder finds:
#   - every fd that a warning named is absent (EBADF), first thing, before
#     it opens anything that could take the number;
#   - every fd that no warning named is there and works: the file at its
#     offset, the pipe, the epoll set;
#   - the epoll set no longer watches the left-out socket (its fdinfo has
#     no tfd line for it, as when a file is closed for good) but still
#     watches the pipe.
# The sockets must be among the left out (this version does not carry
# them); the pty, master and slave both held, must not be (this version
# carries it: no warning, both fds open after restore); each of two inotify fds (one idle, one with an event
# queued and unread) either is left out with its warning, or (where this
# version carries it) comes back without one: both are checked.
# Without --ignore-fds the same process is refused (e2e.check_fd_refusals
# checks each kind alone).
source "$(dirname "$0")/lib.sh"

PYTHON=/usr/bin/python3
HOLDER='
import ctypes, json, os, select, socket, sys
libc = ctypes.CDLL(None, use_errno=True)
path = sys.argv[1]
a, b = socket.socketpair()
socket.send_fds(b, [b"x"], [0])  # a descriptor in flight to a: a is refused, b goes with its peer
master, slave = os.openpty()
ino = libc.inotify_init1(0)
if ino < 0 or libc.inotify_add_watch(ino, b"/tmp", 0x100) < 0:
    sys.exit("inotify: errno %d" % ctypes.get_errno())
ino_unread = libc.inotify_init1(0)  # with an event queued, unread
if ino_unread < 0 or libc.inotify_add_watch(ino_unread, os.path.dirname(path).encode(), 0x100) < 0:
    sys.exit("inotify: errno %d" % ctypes.get_errno())
os.close(os.open(path + ".new", os.O_CREAT | os.O_WRONLY, 0o600))
f = os.open(path, os.O_RDONLY)
os.read(f, 5)
r, w = os.pipe()
ep = select.epoll()
ep.register(a.fileno(), select.EPOLLIN)
ep.register(r, select.EPOLLIN)
fds = {"sock_a": a.fileno(), "sock_b": b.fileno(), "sock_dup": os.dup(a.fileno()), "ptm": master, "pts": slave, "inotify": ino, "inotify_unread": ino_unread,
       "file": f, "pipe_r": r, "pipe_w": w, "epoll": ep.fileno()}
print("ready", json.dumps(fds), flush=True)
sys.stdin.readline()
gone = json.loads(sys.stdin.readline())
report = {}
for name, n in fds.items():   # before anything opens a new fd
    try:
        os.fstat(n)
        report[name] = "open"
    except OSError:
        report[name] = "absent"
if report["file"] == "open":
    report["file_next"] = os.read(f, 5).decode()
if report["pipe_r"] == "open" and report["pipe_w"] == "open":
    os.write(w, b"x")
    report["pipe_data"] = os.read(r, 1).decode()
if report["epoll"] == "open":
    with open("/proc/self/fdinfo/%d" % ep.fileno()) as info:
        report["epoll_watches"] = sorted(int(l.split()[1]) for l in info if l.startswith("tfd:"))
print("report", json.dumps(report), flush=True)
'

printf '0123456789abcdef' >"$WORK/data.txt"
start orig "$PYTHON" -u -c "$HOLDER" "$WORK/data.txt"
wait_lines orig 1
ready=$(grep '^ready ' "$WORK/orig.out") || fail "the holder did not print 'ready {...}'"
fds_json=${ready#ready }
fd_of() { "$PYTHON" -c 'import json, sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$fds_json" "$1"; }

img="$WORK/ignore.ckpt"
disown "$PID_orig"
"$CKPT" dump "$PID_orig" -o "$img" --compress "$COMPRESS" --kill --ignore-fds \
  >"$WORK/dump.out" 2>"$WORK/dump.err"
rc=$?
((rc == 0)) || fail "ckpt dump --ignore-fds exited $rc, expected 0: $(head -n 3 "$WORK/dump.err")"
wait_gone orig

# One warning per fd left out, naming it and its kind.
left_out=()
for c in 'sock_a|socket' 'sock_b|socket' 'sock_dup|socket' 'ptm|terminal|tty|pty' 'pts|terminal|tty|pty' 'inotify|inotify' 'inotify_unread|inotify'; do
  name=${c%%|*} words=${c#*|}
  fd=$(fd_of "$name")
  n=$(grep -Ec "^ckpt: warning: left out fd $fd[^0-9]" "$WORK/dump.err")
  if [[ $name == inotify* && $n == 0 ]]; then
    log "$name fd $fd was carried, not left out (supported by this version)"
    continue
  fi
  if [[ $name == pt[ms] ]]; then
    ((n == 0)) || fail "the pty's $name fd $fd was left out, but a pty held at both ends is carried"
    log "$name fd $fd was carried, not left out"
    continue
  fi
  ((n == 1)) || fail "expected one 'left out fd $fd' warning for $name, got $n"
  grep -E "^ckpt: warning: left out fd $fd[^0-9]" "$WORK/dump.err" | grep -Eiq "$words" ||
    fail "the warning for fd $fd does not say its kind ($words)"
  left_out+=("$name")
done
sock=$(fd_of sock_a)
grep -Eq "^ckpt: warning: epoll fd $(fd_of epoll) no longer watches left-out fd $sock\$" "$WORK/dump.err" ||
  fail "no warning that the epoll set loses its registration of fd $sock"
# Nothing else: the left-out fds, the epoll note, the summary line.
others=$(grep -Ev '^ckpt: warning: (left out fd|epoll fd)|^ckpt: dumped ' "$WORK/dump.err")
[[ -z $others ]] || fail "ckpt dump printed more than the warnings: $others"
grep -c '^ckpt: warning: ' "$WORK/dump.err" | grep -qx $((${#left_out[@]} + 1)) ||
  fail "expected $((${#left_out[@]} + 1)) warning lines: $(cat "$WORK/dump.err")"
verify "$img"

restore_start back "$img"
gone_json=$(printf '%s\n' "${left_out[@]}" | "$PYTHON" -c 'import json, sys; print(json.dumps(sys.stdin.read().split()))')
send back check "$gone_json"
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restored holder"
report=$(grep '^report ' "$WORK/back.out") || fail "the restored holder printed no report"
report=${report#report }
"$PYTHON" - "$report" "$gone_json" "$sock" "$(fd_of pipe_r)" <<'EOF' || fail "the restored holder's fds differ (report: $report)"
import json, sys
report, gone = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
sock, pipe_r = int(sys.argv[3]), int(sys.argv[4])
bad = []
for name in ["sock_a", "sock_b", "sock_dup", "ptm", "pts", "inotify", "inotify_unread", "file", "pipe_r", "pipe_w", "epoll"]:
    want = "absent" if name in gone else "open"
    if report[name] != want:
        bad.append("%s is %s, expected %s" % (name, report[name], want))
if report.get("file_next") != "56789":
    bad.append("the file read %r at its saved offset, expected '56789'" % report.get("file_next"))
if report.get("pipe_data") != "x":
    bad.append("the pipe does not carry data")
if report.get("epoll_watches") != [pipe_r]:
    bad.append("the epoll set watches %r, expected only the pipe (fd %d)" % (report.get("epoll_watches"), pipe_r))
for b in bad:
    print("FAIL", b, file=sys.stderr)
sys.exit(1 if bad else 0)
EOF
grep '^ckpt: warning: ' "$WORK/dump.err" | while read -r line; do log "$line"; done
log "left out: ${left_out[*]}; $(grep -c '^ckpt: warning' "$WORK/dump.err") warnings, e.g. $(grep -m1 'left out' "$WORK/dump.err")"
log "PASS"

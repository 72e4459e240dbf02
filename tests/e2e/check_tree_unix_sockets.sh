#!/usr/bin/env bash
# Unix sockets whose ends are in different members of a tree (issues 13
# and 14), each dumped with --kill, restored, and asked what only the saved
# state can answer:
#   - Python multiprocessing.Pipe() (duplex: a socket pair) between a parent
#     and its child, mid-conversation, with data in flight both ways: the
#     parent's random token, unread by the child, comes back to it and is
#     echoed; the child's message, unread by the parent, is read after restore;
#   - a listener in the parent with a connection it accepted (unread data
#     from the child's client in it) and one still queued, both clients in the
#     child, a datagram the child's named socket sent the parent's, and a
#     datagram pair and a seqpacket pair with two messages each from the
#     child, unread: all read (boundaries kept), accepted and answered after
#     restore;
#   - refused at dump, in one line naming the pid, the fd and the reason,
#     leaving the tree running: a child's socket pair whose other end is
#     outside the tree (also with --inherit-outside-sockets, which is the
#     root's alone), a child's socket of a family ckpt does not carry
#     (AF_VSOCK), a child in another network namespace holding a socket;
#   - --ignore-fds: a socket refused in the root takes the child's end of
#     its pair with it (one warning naming the child's pid and fd).
source "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || { echo "check_tree_unix_sockets: SKIP: no python3" >&2; exit 77; }
child_of() { local c; c=$(cat "/proc/$1/task/$1/children"); echo "${c%% *}"; }
# lib.sh ends the processes it started, not their children: these are
# ended too (if still this test's python, not a pid used again since).
children=()
trap 'for p in "${children[@]}"; do grep -q "$WORK\|python" "/proc/$p/cmdline" 2>/dev/null && kill -9 "$p"; done; _cleanup' EXIT

# --- multiprocessing.Pipe(), data in flight both ways -------------------
cat >"$WORK/pipe.py" <<'EOF'
import multiprocessing as mp, os, random, sys
def child(conn, go):
    r = random.getrandbits(48)
    conn.send(("hello", os.getpid(), r))     # unread by the parent at the dump
    os.write(1, b"child sent %d %d\n" % (os.getpid(), r))  # one write: the parent prints meanwhile
    go.recv()                                # blocked here at the dump
    token = conn.recv()                      # sent by the parent before the dump
    conn.send(("echo", token, r))
if __name__ == "__main__":
    mp.set_start_method("fork")
    here, there = mp.Pipe()                  # duplex: socket.socketpair()
    go_r, go_w = mp.Pipe(duplex=False)       # a plain pipe
    p = mp.Process(target=child, args=(there, go_r))
    p.start()
    token = os.urandom(8).hex()
    here.send(token)                         # unread by the child at the dump
    os.write(1, b"parent sent %s\n" % token.encode())
    sys.stdin.readline()
    kind, pid, r = here.recv()
    print("got", kind, pid, r, flush=True)
    go_w.send("go")
    kind, echoed, r2 = here.recv()
    print("got", kind, echoed, r2 == r, flush=True)
    p.join()
    print("child exit", p.exitcode, flush=True)
EOF
start pipe bash -c 'python3 "$1"; echo "exit $?"' bash "$WORK/pipe.py"
wait_lines pipe 2
token=$(awk '/^parent sent/ {print $3}' "$WORK/pipe.out")
read -r cpid crand < <(awk '/^child sent/ {print $3, $4}' "$WORK/pipe.out")
[[ -n $token && -n $cpid ]] || fail "no token or child: $(cat "$WORK/pipe.out")"
children+=("$cpid")  # (restored, it has this pid again)
dump pipe "$WORK/pipe.ckpt"
verify "$WORK/pipe.ckpt"
"$CKPT" inspect "$WORK/pipe.ckpt" >"$WORK/inspect.out" || fail "ckpt inspect failed"
(($(grep -c '^unix socket .*stream connected (unnamed) peer .*[1-9][0-9]* bytes) unread' "$WORK/inspect.out") >= 2)) ||
  fail "inspect shows no data in flight: $(grep '^unix socket' "$WORK/inspect.out")"
restore_start back "$WORK/pipe.ckpt"
send back go
wait_exit back 0
printf 'got hello %s %s\ngot echo %s True\nchild exit 0\nexit 0\n' "$cpid" "$crand" "$token" >"$WORK/pipe.want"
tail -n 4 "$WORK/back.out" >"$WORK/pipe.got"
expect_same "multiprocessing.Pipe conversation after restore" "$WORK/pipe.want" "$WORK/pipe.got"
check_quiet "$WORK/back.err" "restored pipe"
log "multiprocessing.Pipe: the child's message and the parent's token $token, both in flight, arrived after restore"

# --- a listener, accepted and queued connections, a datagram -------------
cat >"$WORK/names.py" <<'EOF'
import os, socket, sys, time
d = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(d + "/srv.sock"); srv.listen(4)
dg = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
dg.bind(d + "/parent.dg")
dp, dc = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
sp, sc = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
pid = os.fork()
if pid == 0:
    srv.close(); dg.close(); dp.close(); sp.close()
    dc.send(b"pair datagram 1"); dc.send(b"pair datagram 2")
    sc.send(b"packet one"); sc.send(b"packet two")
    c1 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); c1.connect(d + "/srv.sock")
    # Only once accepted: bytes sent to a connection not yet accepted carry
    # the sender's credentials, which only the root's can come back with.
    assert c1.recv(2) == b"ok"
    c1.sendall(b"first client's words")
    c2 = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); c2.connect(d + "/srv.sock")
    mine = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); mine.bind(d + "/child.dg")
    mine.sendto(b"a datagram from the child", d + "/parent.dg")
    os.write(1, b"child ready\n")  # one write: the parent prints meanwhile
    c2.settimeout(60)
    c2.sendall(b"second: " + c1.recv(100))    # after restore: the parent answers c1
    os._exit(0 if c2.recv(100) == b"done" else 3)
dc.close(); sc.close()
a1, _ = srv.accept()
a1.sendall(b"ok")
while True:                                   # until the child's second connection is queued
    if os.path.exists(d + "/child.dg"): break
    time.sleep(0.01)
os.write(1, b"parent ready\n")
sys.stdin.readline()
print("accepted read", a1.recv(100).decode(), flush=True)
data, sender = dg.recvfrom(100)
print("datagram", data.decode(), "from", os.path.basename(sender), flush=True)
print("pairs", dp.recv(100).decode(), dp.recv(100).decode(), sp.recv(100).decode(), sp.recv(100).decode(), sep=" | ", flush=True)
a2, _ = srv.accept()
a1.sendall(b"answer")
print("queued read", a2.recv(100).decode(), flush=True)
a2.sendall(b"done")
print("child exit", os.waitpid(pid, 0)[1] >> 8, flush=True)
EOF
start names python3 "$WORK/names.py" "$WORK"
wait_lines names 2  # "child ready" and "parent ready", in either order
children+=("$(child_of "$PID_names")")
dump names "$WORK/names.ckpt"
verify "$WORK/names.ckpt"
"$CKPT" inspect "$WORK/names.ckpt" >"$WORK/inspect.out" || fail "ckpt inspect failed"
grep -q 'stream listening .*srv.sock' "$WORK/inspect.out" && grep -q 'stream queued' "$WORK/inspect.out" ||
  fail "inspect shows no listener with a queued connection: $(grep '^unix socket' "$WORK/inspect.out")"
restore_start nback "$WORK/names.ckpt"
send nback go
wait_exit nback 0
printf '%s\n' "accepted read first client's words" "datagram a datagram from the child from child.dg" \
  "pairs | pair datagram 1 | pair datagram 2 | packet one | packet two" \
  "queued read second: answer" "child exit 0" >"$WORK/names.want"
tail -n 5 "$WORK/nback.out" >"$WORK/names.got"
expect_same "listener, connections and datagram across members after restore" "$WORK/names.want" "$WORK/names.got"
check_quiet "$WORK/nback.err" "restored names"
log "listener in the parent, its accepted and queued connections' clients in the child, a datagram between them: all carried"

# --- refusals ------------------------------------------------------------
expect_refused() {  # WHAT PATTERN CMD...
  local what=$1 pattern=$2; shift 2
  "$@" >"$WORK/refused.out" 2>"$WORK/refused.err"
  local rc=$?
  ((rc == 1)) || fail "$what: exited $rc, expected 1 ($(cat "$WORK/refused.err"))"
  (($(wc -l <"$WORK/refused.err") == 1)) || fail "$what: not one line: $(cat "$WORK/refused.err")"
  grep -qE "$pattern" "$WORK/refused.err" || fail "$what: said '$(cat "$WORK/refused.err")', expected /$pattern/"
  log "$what: $(cat "$WORK/refused.err")"
}
untouched() {  # PID...: running, not traced
  local p
  for p in "$@"; do
    [[ $(proc_state "$p") == S ]] || fail "pid $p is in state $(proc_state "$p") after a refused dump"
    [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$p/status") == 0 ]] || fail "pid $p is still traced"
  done
}

# The other end in a process outside the tree: the tree's parent holds it.
cat >"$WORK/outside.py" <<'EOF'
import os, socket, sys, time
a, b = socket.socketpair()
outside = os.fork()
if outside == 0:                  # the tree: this process, whose child alone holds b
    a.close()
    if os.fork() == 0:
        time.sleep(1000)
    b.close()
    print("tree", os.getpid(), flush=True)
    time.sleep(1000)
b.close()
time.sleep(1000)
EOF
start outside python3 "$WORK/outside.py"
wait_lines outside 1
troot=$(awk '/^tree/ {print $2}' "$WORK/outside.out")
tchild=$(child_of "$troot")
children+=("$troot" "$tchild")
expect_refused "a child's socket pair end whose other end is outside the tree" \
  "^ckpt: pid $tchild: cannot dump fd [0-9]+: unix socket: connected to socket:\[[0-9]+\], outside the dumped processes$" \
  "$CKPT" dump "$troot" -o "$WORK/refused.ckpt"
untouched "$troot" "$tchild"
# With the option, only the root's ends may stand outside (restore's --inherit-fd gives restore's own fds).
expect_refused "--inherit-outside-sockets for a member other than the root" \
  "^ckpt: pid $tchild: cannot dump fd [0-9]+: unix socket: connected to socket:\[[0-9]+\], outside the dumped processes$" \
  "$CKPT" dump "$troot" -o "$WORK/refused.ckpt" --inherit-outside-sockets
untouched "$troot" "$tchild"

# A socket of a family ckpt does not carry, in a child.
if python3 -c 'import socket; socket.socket(40, socket.SOCK_SEQPACKET)' 2>/dev/null; then
  start vsock python3 -c '
import os, socket, time
if os.fork() == 0:
    s = socket.socket(40, socket.SOCK_SEQPACKET)  # AF_VSOCK
    print("child", os.getpid(), s.fileno(), flush=True)
    time.sleep(1000)
time.sleep(1000)'
  wait_lines vsock 1
  read -r vchild vfd < <(awk '/^child/ {print $2, $3}' "$WORK/vsock.out")
  children+=("$vchild")
  expect_refused "a child's AF_VSOCK socket" \
    "^ckpt: pid $vchild: cannot dump fd $vfd: a socket of AF_VSOCK \(40\) \(socket:\[[0-9]+\]\), a family ckpt does not carry" \
    "$CKPT" dump "$PID_vsock" -o "$WORK/refused.ckpt"
  untouched "$PID_vsock" "$vchild"
else
  log "SKIP (this part only): this kernel has no AF_VSOCK sockets to test the refusal of an uncarried family with"
fi

# A child in another network namespace holding a socket.
if unshare -n true 2>/dev/null; then
  start netns python3 -c '
import subprocess, sys, time
p = subprocess.Popen(["unshare", "-n", sys.executable, "-c",
    "import os, socket, time; a, b = socket.socketpair(); print(\"child\", os.getpid(), a.fileno(), flush=True); time.sleep(1000)"])
time.sleep(1000)'
  wait_lines netns 1
  read -r nchild nfd < <(awk '/^child/ {print $2, $3}' "$WORK/netns.out")
  children+=("$nchild")
  expect_refused "a child holding a socket in another network namespace" \
    "^ckpt: pid $nchild: cannot dump fd $nfd: its socket \(socket:\[[0-9]+\]\) is in another network namespace than the tree's root's" \
    "$CKPT" dump "$PID_netns" -o "$WORK/refused.ckpt"
  untouched "$PID_netns" "$nchild"
else
  log "SKIP (this part only): cannot create a network namespace (unshare -n needs CAP_SYS_ADMIN)"
fi
# --ignore-fds: a socket left out in the root takes its peer, the child's end, with it.
start ignore python3 -c '
import os, socket, time
a, b = socket.socketpair()
a.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)  # refused: not carried
if os.fork() == 0:
    a.close()
    print("child", os.getpid(), b.fileno(), flush=True)
    time.sleep(1000)
b.close()
time.sleep(1000)'
wait_lines ignore 1
read -r ichild ifd < <(awk '/^child/ {print $2, $3}' "$WORK/ignore.out")
children+=("$ichild")
"$CKPT" dump "$PID_ignore" -o "$WORK/ignore.ckpt" --ignore-fds >"$WORK/ignore-dump.out" 2>"$WORK/ignore-dump.err" ||
  fail "ckpt dump --ignore-fds: $(cat "$WORK/ignore-dump.err")"
grep -q "SO_KEEPALIVE is set" "$WORK/ignore-dump.err" &&
  grep -q "^ckpt: warning: pid $ichild: left out fd $ifd (--ignore-fds): unix socket: its peer socket:\[[0-9]*\] is left out" \
    "$WORK/ignore-dump.err" || fail "--ignore-fds did not leave out both ends: $(cat "$WORK/ignore-dump.err")"
grep -q '^unix socket' <("$CKPT" inspect "$WORK/ignore.ckpt") && fail "a left-out socket's record is still in the image"
"$RESTORE" --check --new-pids "$WORK/ignore.ckpt" >"$WORK/ignore-check.out" 2>&1 ||
  fail "restore --check of the image without the sockets: $(cat "$WORK/ignore-check.out")"
log "--ignore-fds: the root's refused end and the child's end left out together, the image restorable"
log "PASS"

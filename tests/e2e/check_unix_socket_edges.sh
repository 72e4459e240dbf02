#!/usr/bin/env bash
# Unix socket cases at the edges, in one python3 process that lives in a
# network namespace of its own (unshare -n: the dumper reads the socket
# table from inside it), restored in the test's own namespace:
#   - 150 KiB unread in a stream socket (more than one message's worth;
#     the receiver has SO_PASSCRED, so peeking stops at each writer's
#     message);
#   - a zero-length datagram before another, in a datagram pair;
#   - a datagram socket bound to a relative name, holding 11 datagrams from
#     an unnamed sender (the most net.unix.max_dgram_qlen lets one queue);
#   - a seqpacket listener on an abstract name with an accepted connection
#     and messages both ways.
# After restore every byte, boundary, sender and name must be as before.
source "$(dirname "$0")/lib.sh"
if ! unshare -n true 2>/dev/null; then
  echo "check_unix_socket_edges: SKIP: cannot create a network namespace (needs CAP_SYS_ADMIN)" >&2
  exit 77
fi

PROG='
import socket, sys, os
os.chdir(sys.argv[1])
a, b = socket.socketpair()
big = bytes(range(256)) * 600
a.setblocking(False)
sent = 0
while sent < len(big):
    try: sent += a.send(big[sent:])
    except BlockingIOError: break
b.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
d1, d2 = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
d1.send(b""); d1.send(b"after empty")
r = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); r.bind("rel.sock")
u = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); u.setblocking(False)
n = 0
for i in range(30):
    try: u.sendto(b"u%d" % i, "rel.sock"); n += 1
    except BlockingIOError: break
l = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); l.bind("\0ckpt-edge-seq-%d" % os.getpid()); l.listen(1)
c = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET); c.connect("\0ckpt-edge-seq-%d" % os.getpid())
x, _ = l.accept(); c.send(b"m1"); c.send(b"m2"); x.send(b"back")
print("ready", sent, n, flush=True)
sys.stdin.readline()
got = b""
b.setblocking(False)
while True:
    try:
        chunk = b.recv(65536)
        if not chunk: break
        got += chunk
    except BlockingIOError: break
print("stream", got == big[:sent], len(got))
print("dgram", d2.recv(100), d2.recv(100))
r.setblocking(False)
msgs = []
while True:
    try: msgs.append(r.recvfrom(100))
    except BlockingIOError: break
print("rel", len(msgs), msgs[0], msgs[-1], r.getsockname())
print("seq", x.recv(10), x.recv(10), c.recv(10), x.getsockname() == l.getsockname())
'
mkdir "$WORK/dir"
start orig unshare -n /usr/bin/python3 -c "$PROG" "$WORK/dir"
wait_lines orig 1
read -r _ sent queued <"$WORK/orig.out"
((sent == 153600 && queued == 11)) || fail "the set-up did not queue what it should: $(cat "$WORK/orig.out")"
pid=$(pgrep -P "$(pid_of orig)" python3 || pid_of orig)
[[ $(readlink "/proc/$pid/ns/net") != $(readlink /proc/self/ns/net) ]] || fail "the target is not in a network namespace of its own"
PID_orig=$pid
dump orig "$WORK/edges.ckpt"
restore_start back "$WORK/edges.ckpt"
send back go
close_input back
wait_exit back 0
expect="stream True 153600
dgram b'' b'after empty'
rel 11 (b'u0', None) (b'u10', None) rel.sock
seq b'm1' b'm2' b'back' True"
[[ $(cat "$WORK/back.out") == "$expect" ]] || fail "restored: $(cat "$WORK/back.out")"
log "restored across network namespaces: $(tr '\n' ';' <"$WORK/back.out")"

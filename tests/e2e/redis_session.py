"""A redis client that keeps ONE connection open across a checkpoint of the
server (tests/e2e/check_real_redis.sh): it loads a dataset and opens a
transaction-free session, prints "ready", waits for a line on stdin (the
server was dumped with --kill --tcp-established and restored meanwhile),
then goes on over the same socket: the server must know it as the same
client (CLIENT ID), hold the dataset, and go on serving. Prints "PASS ..."
or "FAIL ..." and exits 0 or 1. Python's standard library only (RESP by
hand), so that no redis module is needed."""
import socket
import sys

port = int(sys.argv[1])
sock = socket.create_connection(("127.0.0.1", port))
stream = sock.makefile("rb")


def command(*args):
    parts = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
    sock.sendall(b"".join(parts))
    return reply()


def reply():
    line = stream.readline()
    if not line:
        raise SystemExit("FAIL the server closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind in (b"+", b"-"):
        return rest.decode()
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        return None if n < 0 else stream.read(n + 2)[:-2].decode()
    if kind == b"*":
        return [reply() for _ in range(int(rest))]
    raise SystemExit("FAIL unexpected reply %r" % line)


def expect(what, got, want):
    if got != want:
        print("FAIL %s: got %r, expected %r" % (what, got, want), flush=True)
        sys.exit(1)


client_id = command("CLIENT", "ID")
command("CLIENT", "SETNAME", "keeper")
for i in range(2000):
    command("SET", "key:%d" % i, "value-%d" % (i * 7))
command("RPUSH", "list", *range(500))
command("HSET", "hash", "a", "1", "b", "2")
expect("counter", command("INCRBY", "counter", 41), 41)
# A reply left unread in the client's receive queue and a request the
# server has not read yet would both be in flight: keep it simple and
# synchronous, so the connection is idle at the dump (as a pooled
# connection between requests is).
local = sock.getsockname()
print("ready client id %d from port %d" % (client_id, local[1]), flush=True)
sys.stdin.readline()

expect("same socket", sock.getsockname(), local)
expect("client id after restore", command("CLIENT", "ID"), client_id)
expect("client name after restore", command("CLIENT", "GETNAME"), "keeper")
expect("dbsize", command("DBSIZE"), 2003)
for i in (0, 999, 1999):
    expect("key:%d" % i, command("GET", "key:%d" % i), "value-%d" % (i * 7))
expect("list", command("LRANGE", "list", 0, -1), [str(i) for i in range(500)])
expect("hash", command("HGET", "hash", "b"), "2")
expect("counter", command("INCR", "counter"), 42)
expect("set after restore", command("SET", "after", "yes"), "OK")
expect("get after restore", command("GET", "after"), "yes")
print("PASS same connection (client id %d, port %d): dataset intact, 42 counted on" % (client_id, local[1]), flush=True)

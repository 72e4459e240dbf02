"""An HTTP/1.1 client that keeps ONE keep-alive connection open across a
checkpoint of the server (tests/e2e/check_real_node_keepalive.sh): two
requests, "ready", a line on stdin (the server was dumped and restored
meanwhile), then the next request over the same socket, which the server
must answer as the next request of the same connection. Prints "PASS ..."
or "FAIL ..."."""
import http.client
import sys

port = int(sys.argv[1])
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
conn.connect()
conn.auto_open = 0  # never open a second connection behind our back


def get(path):
    conn.request("GET", path)
    r = conn.getresponse()
    if r.getheader("Connection", "").lower() == "close":
        print("FAIL the server closes the connection", flush=True)
        sys.exit(1)
    return r.read().decode().strip()


first, second = get("/a"), get("/b")
local = conn.sock.getsockname()
print("ready %s | %s" % (first, second), flush=True)
sys.stdin.readline()
third = get("/c")
want = second.replace("request 2", "request 3").replace("/b", "/c")
if conn.sock.getsockname() != local or third != want:
    print("FAIL after restore: %r (expected %r)" % (third, want), flush=True)
    sys.exit(1)
print("PASS %s" % third, flush=True)

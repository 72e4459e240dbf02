#!/usr/bin/env bash
# A pre-fork TCP server (issues 13 and 14): a parent that binds and listens,
# then forks 2 workers accepting on the one inherited listener, each
# reporting every request it serves to the parent over a socket pair of
# its own. Dumped with --kill --tcp-established in the middle of it, in a
# network namespace of the test's own, restored, and asked what only the
# saved state can answer:
#   - the listener (one socket, held by all three) accepts again, and each
#     worker goes on counting from where it was, with the secret the parent
#     drew before forking;
#   - a client's keep-alive connection, held only by the worker serving it
#     (a non-root member), gets its next answer from that worker;
#   - the parent drains the reports in flight in the socket pairs: every
#     request served before the dump and after is counted;
#   - a UDP socket shared by all three members holds the datagram the test
#     sent before the dump;
#   - a loopback TCP connection made before the fork (both ends held by
#     every member) still holds the bytes sent before the fork, unread, and
#     carries more.
source "$(dirname "$0")/tcp.sh"
command -v python3 >/dev/null || { echo "check_tree_prefork_server: SKIP: no python3" >&2; exit 77; }
port=5101
uport=5102

cat >"$WORK/server.py" <<'EOF'
import os, socket, sys
port, uport = int(sys.argv[1]), int(sys.argv[2])
secret = os.urandom(6).hex()
L = socket.socket(); L.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
L.bind(("127.0.0.1", port)); L.listen(16)
U = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); U.bind(("127.0.0.1", uport))
C = socket.create_connection(("127.0.0.1", port)); A, _ = L.accept()
C.sendall(b"sent before the fork")          # unread in A until "stats"
ctrl = []
for i in range(2):
    mine, theirs = socket.socketpair()
    if os.fork() == 0:
        mine.close()
        for c in ctrl: c.close()
        n = 0
        while True:
            conn, _ = L.accept()
            f = conn.makefile("rwb")
            for line in f:                       # keep-alive: one answer per line
                n += 1
                theirs.sendall(b"served\n")      # reported before the answer
                f.write(b"worker %d request %d secret %s\n" % (i, n, secret.encode())); f.flush()
            f.close(); conn.close()
    theirs.close(); ctrl.append(mine)
print("ready", secret, flush=True)
for line in sys.stdin:
    if line.strip() != "stats": continue
    total = 0
    for c in ctrl:
        c.setblocking(False)
        try:
            while True:
                d = c.recv(4096)
                if not d: break
                total += d.count(b"served")
        except BlockingIOError:
            pass
    U.setblocking(False)
    try: dg = U.recv(100).decode()
    except BlockingIOError: dg = "none"
    C.sendall(b" and after")
    print("stats", total, dg, A.recv(30, socket.MSG_WAITALL).decode(), flush=True)
EOF
cat >"$WORK/client.py" <<'EOF'
import socket, sys
port = int(sys.argv[1])
def ask(f):
    f.write(b"req\n"); f.flush()
    return f.readline().decode().strip()
k = socket.create_connection(("127.0.0.1", port)).makefile("rwb")
print("keep", ask(k), flush=True)
print("keep", ask(k), flush=True)
sys.stdin.readline()
print("keep", ask(k), flush=True)
for _ in range(2):
    with socket.create_connection(("127.0.0.1", port)) as s:
        print("new", ask(s.makefile("rwb")), flush=True)
EOF
once() { python3 -c 'import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); f = s.makefile("rwb")
f.write(b"req\n"); f.flush(); print(f.readline().decode().strip())' "$port"; }

start server python3 "$WORK/server.py" "$port" "$uport"
wait_lines server 1
secret=$(awk '/^ready/ {print $2}' "$WORK/server.out")
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  (($(wc -w <"/proc/$PID_server/task/$PID_server/children") == 2)) && break
  sleep 0.05
done
# lib.sh ends the started processes, not their children: the workers
# (restored with the same pids) are ended with the test too, if still
# this test's server.
read -r w1 w2 <"/proc/$PID_server/task/$PID_server/children"
[[ -n $w1 && -n $w2 ]] || fail "the server has not 2 workers"
trap 'for p in $w1 $w2; do grep -q server.py "/proc/$p/cmdline" 2>/dev/null && kill -9 "$p"; done; _cleanup' EXIT
start client python3 "$WORK/client.py" "$port"
wait_lines client 2
kw=$(awk 'NR == 1 {print $3}' "$WORK/client.out")  # the worker serving the keep-alive client
other=$((1 - kw))
for i in 1 2 3; do
  [[ $(once) == "worker $other request $i secret $secret" ]] || fail "request $i before the dump was answered otherwise"
done
dgram="datagram-$RANDOM$RANDOM"
python3 -c 'import socket, sys
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(sys.argv[1].encode(), ("127.0.0.1", int(sys.argv[2])))' "$dgram" "$uport"
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do  # the datagram is queued
  [[ $(ss -Hun "sport = :$uport" | awk '{print $2}') != 0 ]] && break
  sleep 0.05
done

dump_tcp server "$WORK/server.ckpt"
verify "$WORK/server.ckpt"
"$CKPT" inspect "$WORK/server.ckpt" >"$WORK/inspect.out" || fail "ckpt inspect failed"
grep -q "listening" "$WORK/inspect.out" || fail "inspect shows no listener"
restore_start back "$WORK/server.ckpt"
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  ss -Htln "sport = :$port" | grep -q . && break
  sleep 0.05
done
send client go
wait_exit client 0
printf '%s\n' "keep worker $kw request 1 secret $secret" "keep worker $kw request 2 secret $secret" \
  "keep worker $kw request 3 secret $secret" "new worker $other request 4 secret $secret" \
  "new worker $other request 5 secret $secret" >"$WORK/client.want"
expect_same "answers before and after restore" "$WORK/client.want" "$WORK/client.out"
send back stats
wait_lines back 1
[[ $(tail -n 1 "$WORK/back.out") == "stats 8 $dgram sent before the fork and after" ]] ||
  fail "the restored parent's stats: $(tail -n 1 "$WORK/back.out"), expected: stats 8 $dgram sent before the fork and after"
check_quiet "$WORK/back.err" "restored server"
log "pre-fork server: listener shared by 3 members, keep-alive client served on by its worker, 8 reports counted (5 in flight at the dump), the shared UDP socket's datagram and the pre-fork connection's bytes kept"

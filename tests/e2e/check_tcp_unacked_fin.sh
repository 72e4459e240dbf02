# Outside ESTABLISHED the kernel sends no window probe, so `ckpt dump --kill
# --tcp-established` cannot make the peer pay at once an acknowledgement it
# still owes; it waits instead until the peer has acknowledged everything
# the process sent (tcpi_unacked 0), and refuses ("dump again") if that does
# not happen in time: an acknowledgement arriving after the kill would find
# no socket, the kernel would answer it with a RST and the peer's end would
# die before the restore. Here the app shuts its direction down (FIN-WAIT-1)
# while an nftables rule in the test's namespace drops every segment of the
# peer, so the FIN stays unacknowledged: the dump must refuse, naming the
# connection and its state, leave no image and leave the app running. Once
# the rule is gone the FIN is acknowledged (FIN-WAIT-2); the dump then
# succeeds, and the restored app reads the peer's data to its end.
source "$(dirname "$0")/tcp.sh"
command -v nft >/dev/null || fail "nft (Debian package nftables, in .ci/deps) is missing"

cat >"$WORK/ends.py" <<'PY'
import socket, sys
role = sys.argv[1]
def line():
    l = sys.stdin.readline()
    if not l:
        sys.exit("no line on stdin")
    return l.strip()
if role == "peer":
    l = socket.socket()
    l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    l.bind(("127.0.0.1", 7001)); l.listen(1)
    print("listening", flush=True)
    c, _ = l.accept(); l.close()
    print("accepted", flush=True)
    line()  # go: the app's FIN came in; send our data and our FIN
    c.sendall(bytes(i % 251 for i in range(100000)))
    c.shutdown(socket.SHUT_WR)
    got = c.recv(1)
    print("PASS peer: the app's stream ended cleanly" if got == b"" else f"FAIL peer: got {got!r}", flush=True)
else:
    c = socket.create_connection(("127.0.0.1", 7001))
    print("connected", flush=True)
    line()  # shut
    c.shutdown(socket.SHUT_WR)
    print("shut", flush=True)
    line()  # go (after the restore)
    print("resumed", flush=True)  # its socket is out of repair mode: the peer may send
    data = b""
    while True:
        b = c.recv(65536)
        if not b:
            break
        data += b
    ok = data == bytes(i % 251 for i in range(100000))
    print(f"PASS app: {len(data)} bytes then EOF" if ok else f"FAIL app: {len(data)} bytes, wrong", flush=True)
PY

# state_of_app: the TCP state of the app's end (local port not 7001).
state_of_app() { ss -Htn "dport = :7001" | awk '{print $1}'; }

start peer python3 "$WORK/ends.py" peer
wait_lines peer 1
start app python3 "$WORK/ends.py" app
wait_lines app 1
wait_lines peer 2
pid=$(pid_of app)
nft add table inet ckpt_test && nft add chain inet ckpt_test out '{ type filter hook output priority 0; }' &&
  nft add rule inet ckpt_test out tcp sport 7001 drop || fail "cannot add the nftables rule"
send app shut
wait_lines app 2
[[ $(state_of_app) == FIN-WAIT-1 ]] || fail "the app's end is in $(state_of_app), expected FIN-WAIT-1"
if "$CKPT" dump "$pid" -o "$WORK/app.ckpt" --kill --tcp-established >"$WORK/dump.out" 2>"$WORK/dump.err"; then
  fail "ckpt dump succeeded although the peer had not acknowledged the app's FIN"
fi
log "refused: $(cat "$WORK/dump.err")"
grep -q "fd [0-9]*: the TCP connection 127.0.0.1:[0-9]* -> 127.0.0.1:7001 in state FIN-WAIT-1: its peer has not acknowledged everything" \
  "$WORK/dump.err" || fail "not the expected refusal: $(cat "$WORK/dump.err")"
(($(wc -l <"$WORK/dump.err") == 1)) || fail "the refusal is not one line: $(cat "$WORK/dump.err")"
[[ ! -e $WORK/app.ckpt ]] || fail "an image was left behind by the refused dump"
[[ $(proc_state "$pid") == [SR] ]] || fail "the app is not running after the refused dump: state $(proc_state "$pid")"

nft delete table inet ckpt_test || fail "cannot remove the nftables rule"
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  [[ $(state_of_app) == FIN-WAIT-2 ]] && break
  sleep 0.05
done
[[ $(state_of_app) == FIN-WAIT-2 ]] || fail "the app's FIN was not acknowledged once the rule was gone: $(state_of_app)"
dump_tcp app "$WORK/app.ckpt"
restore_start rapp "$WORK/app.ckpt"
send rapp go
wait_lines rapp 1  # "resumed": only now may the peer send (no socket had the 4-tuple before)
send peer go
wait_exit rapp 0
wait_exit peer 0
grep -q "^PASS app: 100000 bytes then EOF" "$WORK/rapp.out" || fail "restored app: $(cat "$WORK/rapp.out")"
grep -q "^PASS peer" "$WORK/peer.out" || fail "peer: $(cat "$WORK/peer.out")"
log "an unacknowledged FIN made the dump refuse; once acknowledged, the FIN-WAIT-2 connection was carried intact"
log PASS

# `ckpt dump --kill --tcp-established` sends each established connection a
# window probe and waits for the peer's answer before sealing it (a delayed
# ACK the peer still owed would otherwise reach the closed socket and reset
# the peer). A peer that does not answer makes the dump refuse, naming the
# connection, before anything is written or killed. Here the peer is made
# deaf to the probe: an MD5 key set on its socket (TCP_MD5SIG, through a
# copy of it taken with pidfd_getfd) makes its kernel drop every segment of
# the original, which carries no MD5 option. The dump must fail with that
# line, leave no image, leave the app running, and once the key is gone
# again both streams must run to their ends byte for byte: the refused dump
# changed nothing.
source "$(dirname "$0")/tcp.sh"

# peer_key on|off: the peer's connected socket accepts only segments signed
# with a key (on), or any again (off).
peer_key() {
  python3 - "$(pid_of peer)" "$1" <<'PY' || fail "cannot set the MD5 key on the peer's socket"
import ctypes, os, socket, struct, sys
pid, on = int(sys.argv[1]), sys.argv[2] == "on"
libc = ctypes.CDLL(None, use_errno=True)
pidfd = os.pidfd_open(pid)
done = 0
for name in os.listdir(f"/proc/{pid}/fd"):
    fd = libc.syscall(438, pidfd, int(name), 0)  # pidfd_getfd
    if fd < 0:
        continue
    try:
        s = socket.socket(fileno=fd)
    except OSError:
        os.close(fd)
        continue  # not a socket: the terminal, a pipe
    try:
        try:
            s.getpeername()
        except OSError:
            s.close()
            continue  # the listener
        key = b"deaf to the window probe" if on else b""
        addr = struct.pack("=HH4s120x", socket.AF_INET, 0, socket.inet_aton("127.0.0.1"))
        # struct tcp_md5sig: address, flags, prefix length, key length, ifindex, key[80]
        s.setsockopt(socket.IPPROTO_TCP, 14, addr + struct.pack("=BBHi80s", 0, 0, len(key), 0, key))
        s.close()
        done += 1
    except OSError as e:
        sys.exit(f"fd {name}: {e}")
sys.exit(0 if done == 1 else f"{done} connected sockets in the peer")
PY
}

start peer "$PROGRAMS/tcp_stream" peer 127.0.0.1 7001
wait_lines peer 1
start app "$PROGRAMS/tcp_stream" app 127.0.0.1 7001
wait_lines app 1
wait_lines peer 2
pid=$(pid_of app)
peer_key on
if "$CKPT" dump "$pid" -o "$WORK/app.ckpt" --kill --tcp-established >"$WORK/dump.out" 2>"$WORK/dump.err"; then
  fail "ckpt dump succeeded although the peer could not answer the window probe"
fi
log "refused: $(cat "$WORK/dump.err")"
grep -q "fd [0-9]*: the TCP connection 127.0.0.1:[0-9]* -> 127.0.0.1:7001: its peer did not answer a window probe" \
  "$WORK/dump.err" || fail "not the expected refusal: $(cat "$WORK/dump.err")"
(($(wc -l <"$WORK/dump.err") == 1)) || fail "the refusal is not one line: $(cat "$WORK/dump.err")"
[[ ! -e $WORK/app.ckpt ]] || fail "an image was left behind by the refused dump"
[[ $(proc_state "$pid") == [SR] ]] || fail "the app is not running after the refused dump: state $(proc_state "$pid")"
peer_key off
send app go
send peer go
wait_exit app 0
wait_exit peer 0
grep -q "^PASS app: 250000 bytes received and 4194304 sent" "$WORK/app.out" || fail "app: $(cat "$WORK/app.out")"
grep -q "^PASS peer: 4194304 bytes received and 250000 sent" "$WORK/peer.out" || fail "peer: $(cat "$WORK/peer.out")"
log "a deaf peer made the dump refuse before the kill; the connection then carried both streams intact"
log PASS

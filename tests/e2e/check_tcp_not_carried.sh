# (Not named *refusals*: lib.sh treats "refus" in ckpt's output, the work dir included, as alarming.)
# What `ckpt dump --tcp-established` and `restore` refuse about established
# TCP connections, each in one line, and that a refused or failed dump leaves
# the connection exactly as it was (the peer sees no difference):
#   - without --tcp-established: refused, naming the fd, both addresses and
#     the option; with --ignore-fds left out, saying so;
#   - without CAP_NET_ADMIN (setpriv drops it): refused, naming it;
#   - a dump that fails after the connection went back into repair mode
#     (CKPT_FAULT=fail at "dump: tcp frozen"): the process and its
#     connection go on untouched;
#   - a dump without --kill: allowed, with a warning; restore --check and
#     restore refuse while the original still holds the connection; after
#     all of that, the original's streams still complete, byte for byte;
#   - a state this version does not carry (SYN-SENT): refused naming it;
#     so is a connection signed with TCP MD5 keys;
#   - restore (and --check) without CAP_NET_ADMIN: refused, naming it,
#     before the point of no return; the same image then restores;
#   - corrupt tcp records (image_edit): one line each, "bad image".
source "$(dirname "$0")/tcp.sh"
EDIT="$PROGRAMS/../tools/image_edit"
[[ -x $EDIT ]] || fail "image_edit not built at $EDIT"
NO_NET_ADMIN=(setpriv --inh-caps=-net_admin --bounding-set=-net_admin --)

# refused WHAT PATTERN CMD...: CMD must exit 1 with one line matching PATTERN.
refused() {
  local what=$1 pattern=$2 rc
  shift 2
  "$@" >"$WORK/refused.out" 2>"$WORK/refused.err"
  rc=$?
  ((rc == 1)) || fail "$what: exit $rc, expected 1: $(cat "$WORK/refused.err")"
  (($(wc -l <"$WORK/refused.err") == 1)) || fail "$what: more than one line: $(cat "$WORK/refused.err")"
  grep -qE -- "$pattern" "$WORK/refused.err" || fail "$what: '$(cat "$WORK/refused.err")' does not match '$pattern'"
  log "$what: $(cat "$WORK/refused.err")"
}

# alive NAME: running, not stopped, not traced.
alive() {
  local pid state
  pid=$(pid_of "$1")
  state=$(proc_state "$pid")
  [[ $state == S || $state == R ]] || fail "$1 (pid $pid) is in state '$state'"
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status") == 0 ]] || fail "$1 (pid $pid) is still traced"
}

# connect_pair SUFFIX PORT [ENV...]: peerSUFFIX and appSUFFIX, connected, ready.
connect_pair() {
  start "peer$1" "$PROGRAMS/tcp_stream" peer 127.0.0.1 "$2"
  wait_lines "peer$1" 1
  start "app$1" env "${@:3}" "$PROGRAMS/tcp_stream" app 127.0.0.1 "$2"
  wait_lines "app$1" 1
  wait_lines "peer$1" 2
}

connect_pair a 6001 X=1
pid=$PID_appa
refused "without --tcp-established" "cannot dump fd 3: an established TCP connection 127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.1:6001; .*--tcp-established.*CAP_NET_ADMIN" \
  "$CKPT" dump "$pid" -o "$WORK/a.ckpt" --kill
alive appa
"$CKPT" dump "$pid" -o "$WORK/ignored.ckpt" --ignore-fds >/dev/null 2>"$WORK/ignored.err" ||
  fail "dump --ignore-fds: $(cat "$WORK/ignored.err")"
grep -q "warning: left out fd 3 (--ignore-fds): an established TCP connection 127.0.0.1:[0-9]* -> 127.0.0.1:6001" \
  "$WORK/ignored.err" || fail "dump --ignore-fds did not leave the connection out, saying so: $(cat "$WORK/ignored.err")"
"$CKPT" inspect "$WORK/ignored.ckpt" >"$WORK/ignored.out" || fail "inspect failed"
grep -q '^tcp connection' "$WORK/ignored.out" && fail "--ignore-fds left a tcp record in the image"
alive appa
log "--ignore-fds leaves the connection out, with a warning"
refused "without CAP_NET_ADMIN" "fd 3: a TCP connection 127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.1:6001: cannot put it in repair mode .*needs CAP_NET_ADMIN" \
  "${NO_NET_ADMIN[@]}" "$CKPT" dump "$pid" -o "$WORK/a.ckpt" --kill --tcp-established
alive appa

# The fault point's number, from a --kill dump of a connection of its own.
connect_pair b 6002 X=1
disown "$PID_appb"
for ((try = 1; try <= 10; try++)); do  # "dump again" while the connection moves on (tcp.sh, dump_tcp)
  CKPT_FAULT=trace "$CKPT" dump "$PID_appb" -o "$WORK/b.ckpt" --kill --tcp-established 2>"$WORK/trace.err" && break
  grep -q 'dump again' "$WORK/trace.err" || fail "traced dump failed: $(tail -n 3 "$WORK/trace.err")"
done
at=$(sed -n 's/^ckpt fault point \([0-9]*\): dump: tcp frozen$/\1/p' "$WORK/trace.err")
[[ -n $at ]] || fail "no 'dump: tcp frozen' fault point traced: $(tail -n 3 "$WORK/trace.err")"
wait_gone appb
CKPT_FAULT=fail CKPT_FAULT_AT=$at "$CKPT" dump "$pid" -o "$WORK/a.ckpt" --kill --tcp-established \
  >/dev/null 2>"$WORK/f.err" && fail "the dump with a failing fault point $at succeeded"
[[ -e $WORK/a.ckpt ]] && fail "a failed dump left an image"
alive appa
log "a dump failing once the connection was back in repair mode: $(tail -n 1 "$WORK/f.err"); process untouched"

"$CKPT" dump "$pid" -o "$WORK/a.ckpt" --tcp-established >/dev/null 2>"$WORK/live.err" ||
  fail "dump without --kill: $(cat "$WORK/live.err")"
grep -q "warning: fd 3: the TCP connection 127.0.0.1:[0-9]* -> 127.0.0.1:6001 stays with the running process" "$WORK/live.err" ||
  fail "no warning about the connection left running: $(cat "$WORK/live.err")"
alive appa
refused "restore --check while the original holds it" "TCP connection .* -> 127\.0\.0\.1:6001: the connection still exists here" \
  "$RESTORE" --check "$WORK/a.ckpt"
refused "restore while the original holds it" "the connection still exists here" "$RESTORE" "$WORK/a.ckpt"
send appa go
send peera go
wait_exit appa 0
wait_exit peera 0
grep -q "^PASS app: 250000 bytes received and 4194304 sent" "$WORK/appa.out" || fail "original app: $(cat "$WORK/appa.out")"
grep -q "^PASS peer: 4194304 bytes received and 250000 sent" "$WORK/peera.out" || fail "peer: $(cat "$WORK/peera.out")"
log "after four dumps and two refused restores the original's streams completed, byte for byte"

# SYN-SENT: a second connection to a listener whose accept queue is full
# (backlog 0, one connection waiting) has its SYN dropped and retries.
PYTHON=$(command -v python3) || fail "needs python3"
start listener "$PYTHON" -c '
import socket, sys
l = socket.socket(); l.bind(("127.0.0.1", 6005)); l.listen(0)
print("listening", flush=True); sys.stdin.readline()'
wait_lines listener 1
start connecting "$PYTHON" -c '
import socket, sys
a = socket.create_connection(("127.0.0.1", 6005))
b = socket.socket(); b.setblocking(False); b.connect_ex(("127.0.0.1", 6005))
print("ready", a.fileno(), b.fileno(), flush=True); sys.stdin.readline()'
wait_lines connecting 1
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  grep -q ':6005 *$' <<<"$(ss -Htn state syn-sent)" && break
  sleep 0.05
done
refused "a connection in SYN-SENT" "fd 4: a TCP connection from 127\.0\.0\.1:[0-9]+ in state SYN-SENT: a handshake in progress cannot be carried" \
  "$CKPT" dump "$PID_connecting" -o "$WORK/s.ckpt" --kill --tcp-established
alive connecting

# A connection signed with TCP MD5 keys (both ends keyed for 127.0.0.1).
start md5 "$PYTHON" -c '
import socket, struct, sys
def keyed(s):
    addr = struct.pack("=HH4s", socket.AF_INET, 0, socket.inet_aton("127.0.0.1")).ljust(128, b"\0")
    s.setsockopt(socket.IPPROTO_TCP, 14, addr + struct.pack("=BBHI", 0, 0, 6, 0) + b"secret".ljust(80, b"\0"))
    return s
l = keyed(socket.socket()); l.bind(("127.0.0.1", 6006)); l.listen(1)
c = keyed(socket.socket()); c.connect(("127.0.0.1", 6006))
a, _ = l.accept(); l.close()
print("ready", c.fileno(), a.fileno(), flush=True); sys.stdin.readline()'
wait_lines md5 1
refused "a connection with TCP MD5 keys" "fd [0-9]+: a TCP connection 127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.1:[0-9]+ has TCP MD5 signature keys" \
  "$CKPT" dump "$PID_md5" -o "$WORK/m.ckpt" --kill --tcp-established
alive md5

# Restore without CAP_NET_ADMIN, then with it.
connect_pair d 6004 X=1
dump_tcp appd "$WORK/d.ckpt"
refused "restore --check without CAP_NET_ADMIN" "TCP connection 127\.0\.0\.1:[0-9]+ -> 127\.0\.0\.1:6004: restoring a TCP connection \(TCP_REPAIR\) needs CAP_NET_ADMIN" \
  "${NO_NET_ADMIN[@]}" "$RESTORE" --check "$WORK/d.ckpt"
refused "restore without CAP_NET_ADMIN" "needs CAP_NET_ADMIN" "${NO_NET_ADMIN[@]}" "$RESTORE" "$WORK/d.ckpt"

for edit in tcp_state=4 tcp_wscale=15 tcp_unsent=99999999 tcp_mss=0 tcp_maxseg_option=1 tcp_orphan=1; do
  "$EDIT" "$WORK/d.ckpt" "$WORK/bad.ckpt" "$edit" || fail "image_edit $edit failed"
  refused "a tcp record with $edit" "bad image .*tcp" "$RESTORE" --check "$WORK/bad.ckpt"
done

"$RESTORE" --check "$WORK/d.ckpt" >/dev/null 2>"$WORK/check.err" || fail "restore --check: $(cat "$WORK/check.err")"
restore_start rappd "$WORK/d.ckpt"
wait_port_established 6004 2
send rappd go
wait_lines rappd 1
send peerd go
wait_exit rappd 0
wait_exit peerd 0
grep -q "^PASS peer: 4194304 bytes received" "$WORK/peerd.out" || fail "peer: $(cat "$WORK/peerd.out")"
log "the image refused without CAP_NET_ADMIN restores with it"
log PASS

# TCP connections in states other than ESTABLISHED, and shut down for
# reading, carried with `ckpt dump --tcp-established` (the app dumped with
# --kill and restored, its peer outside; tcp_stream, TCP_STREAM_SHUT):
#   - FIN-WAIT-1 with its FIN behind data never sent: refused, one line, the
#     connection going on untouched (outside ESTABLISHED, leaving repair
#     mode sends no window probe: a window opened while the restore ran
#     would never be heard of again);
#   - FIN-WAIT-2: its FIN sent and acknowledged: the peer's end of file
#     stays, the app receives the peer's whole stream;
#   - CLOSE-WAIT (the peer of an app that shut its direction down is
#     dumped): the FIN it had received is delivered again, so it reads the
#     end of file at once and its own stream still arrives whole; without
#     CAP_NET_RAW (needed for that) restore --check refuses it;
#   - shut down for reading with 40000 bytes unread: the restored app reads
#     them, then the end of file (not a wait for more).
source "$(dirname "$0")/tcp.sh"

# carried MODE PORT STATE: a pair whose app is in STATE (ss's name) is
# dumped, the app restored, and both sides told to go on.
carried() {
  local mode=$1 port=$2 state=$3 i
  start peer env TCP_STREAM_SHUT="$mode" "$PROGRAMS/tcp_stream" peer 127.0.0.1 "$port"
  wait_lines peer 1
  start app env TCP_STREAM_SHUT="$mode" "$PROGRAMS/tcp_stream" app 127.0.0.1 "$port"
  wait_lines app 1
  wait_lines peer 2
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    grep -q ":$port *\$" <<<"$(ss -Htn state "$state")" && break
    sleep 0.05
  done
  grep -q ":$port *\$" <<<"$(ss -Htn state "$state")" || fail "the app's end is not in $state: $(ss -tn)"
  dump_tcp app "$WORK/$mode.ckpt"
  "$CKPT" inspect "$WORK/$mode.ckpt" | grep "^tcp connection" >"$WORK/inspect.out"
  restore_start rapp "$WORK/$mode.ckpt"
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    grep -q ":$port *\$" <<<"$(ss -Htn)" && break
    sleep 0.05
  done
}

# FIN-WAIT-1 with its FIN behind data never sent: refused (after restore
# nothing would make the peer repeat a window it opened meanwhile).
start peer env TCP_STREAM_SHUT=wr "$PROGRAMS/tcp_stream" peer 127.0.0.1 7001
wait_lines peer 1
start app env TCP_STREAM_SHUT=wr "$PROGRAMS/tcp_stream" app 127.0.0.1 7001
wait_lines app 1
wait_lines peer 2
"$CKPT" dump "$PID_app" -o "$WORK/wr.ckpt" --kill --tcp-established >/dev/null 2>"$WORK/wr.err" &&
  fail "a FIN-WAIT-1 connection with data never sent was dumped"
grep -q 'in state FIN-WAIT-1 with [0-9]* bytes never sent' "$WORK/wr.err" || fail "FIN-WAIT-1: $(cat "$WORK/wr.err")"
(($(wc -l <"$WORK/wr.err") == 1)) || fail "more than one line: $(cat "$WORK/wr.err")"
send app go
send peer go
wait_exit app 0
wait_exit peer 0
log "FIN-WAIT-1 behind unsent data: refused in one line, and the connection went on untouched"

carried wr-idle 7002 fin-wait-2
grep -q 'FIN-WAIT-2, send queue 0 bytes' "$WORK/inspect.out" || fail "inspect: $(cat "$WORK/inspect.out")"
send rapp go
wait_lines rapp 1
send peer go
wait_exit rapp 0
wait_exit peer 0
grep -q "^PASS app: 250000 bytes received and 0 sent" "$WORK/rapp.out" || fail "restored app: $(cat "$WORK/rapp.out")"
grep -q "^PASS peer: 0 bytes received and 250000 sent" "$WORK/peer.out" || fail "peer: $(cat "$WORK/peer.out")"
log "FIN-WAIT-2: the peer's stream received whole after restore"

# CLOSE-WAIT: the app shut its direction down (wr-idle) and the *peer* is
# dumped: its FIN-received state comes back (delivered again as the app's
# FIN), so after restore it reads the end of file at once, then sends its
# whole stream and closes; restore without CAP_NET_RAW refuses it first.
start peer env TCP_STREAM_SHUT=wr-idle "$PROGRAMS/tcp_stream" peer 127.0.0.1 7004
wait_lines peer 1
start app env TCP_STREAM_SHUT=wr-idle "$PROGRAMS/tcp_stream" app 127.0.0.1 7004
wait_lines app 1
wait_lines peer 2
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  grep -q '127.0.0.1:7004 ' <<<"$(ss -Htn state close-wait)" && break
  sleep 0.05
done
grep -q '127.0.0.1:7004 ' <<<"$(ss -Htn state close-wait)" || fail "the peer's end is not in CLOSE-WAIT: $(ss -tn)"
dump_tcp peer "$WORK/close-wait.ckpt"
"$CKPT" inspect "$WORK/close-wait.ckpt" >"$WORK/inspect.out" || fail "ckpt inspect failed"
grep -q "^tcp connection .*127.0.0.1:7004 -> .* CLOSE-WAIT" "$WORK/inspect.out" || fail "inspect: $(grep '^tcp' "$WORK/inspect.out")"
setpriv --inh-caps=-net_raw --bounding-set=-net_raw -- "$RESTORE" --check "$WORK/close-wait.ckpt" \
  >/dev/null 2>"$WORK/noraw.err" && fail "restore --check without CAP_NET_RAW accepted a CLOSE-WAIT connection"
grep -q 'needs a raw socket (CAP_NET_RAW)' "$WORK/noraw.err" || fail "without CAP_NET_RAW: $(cat "$WORK/noraw.err")"
restore_start rpeer "$WORK/close-wait.ckpt"
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  grep -q '127.0.0.1:7004 ' <<<"$(ss -Htn state close-wait)" && break
  sleep 0.05
done
grep -q '127.0.0.1:7004 ' <<<"$(ss -Htn state close-wait)" || fail "the restored peer is not in CLOSE-WAIT: $(ss -tn)"
send rpeer go
wait_lines rpeer 1
send app go
wait_exit rpeer 0
wait_exit app 0
grep -q "^PASS peer: 0 bytes received and 250000 sent" "$WORK/rpeer.out" || fail "restored peer: $(cat "$WORK/rpeer.out")"
grep -q "^PASS app: 250000 bytes received and 0 sent" "$WORK/app.out" || fail "app: $(cat "$WORK/app.out")"
log "CLOSE-WAIT: the restored peer read the end of file, then its whole stream reached the app"

carried rd 7003 established
grep -q 'receive queue 40000 bytes .*shut down for reading' "$WORK/inspect.out" || fail "inspect: $(cat "$WORK/inspect.out")"
send rapp go
wait_exit rapp 0
grep -q "^PASS app: shut down for reading: 50000 bytes, then end of file" "$WORK/rapp.out" ||
  fail "restored app: $(cat "$WORK/rapp.out")"
log "shut down for reading: the unread 40000 bytes, then the end of file"
log PASS

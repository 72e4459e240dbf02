# Established TCP connections carried alive (`ckpt dump --tcp-established`,
# TCP_REPAIR), in a network namespace of the test's own:
#   - a client (tcp_stream app) with 40000 unread bytes in its receive
#     queue and megabytes its peer had no room for in its send queue is
#     dumped with --kill and restored; its peer, outside the dumped process,
#     then reads the app's whole stream and sends the rest of its own: every
#     byte in order at its offset, no reset, a clean end of file both ways;
#     over IPv4 and IPv6;
#   - the image shows the connection (inspect) and verifies;
#   - the accepted end of a dual-stack (::) listener, IPv4-mapped: the
#     peer side is dumped and restored instead;
#   - both ends inside the dumped process (tcp_stream pair): both repaired.
source "$(dirname "$0")/tcp.sh"

port=5000
for addr in 127.0.0.1 ::1; do
  port=$((port + 1))
  start peer "$PROGRAMS/tcp_stream" peer "$addr" "$port"
  wait_lines peer 1
  start app "$PROGRAMS/tcp_stream" app "$addr" "$port"
  wait_lines app 1
  wait_lines peer 2
  dump app "$WORK/app.ckpt" --tcp-established
  wait_established 1  # the original's end went away without a FIN or RST
  verify "$WORK/app.ckpt"
  "$CKPT" inspect "$WORK/app.ckpt" >"$WORK/inspect.out" || fail "ckpt inspect failed"
  grep -q "tcp connection .* -> .*:$port ESTABLISHED, send queue [1-9][0-9]* bytes" "$WORK/inspect.out" ||
    fail "inspect does not show the connection: $(grep -i tcp "$WORK/inspect.out")"
  restore_start rapp "$WORK/app.ckpt"
  wait_established 2  # the restored end exists (in repair mode until it resumes)
  send rapp go
  send peer go
  wait_exit rapp 0
  wait_exit peer 0
  grep -q "^PASS app: 250000 bytes received and 4194304 sent" "$WORK/rapp.out" || fail "restored app: $(cat "$WORK/rapp.out")"
  grep -q "^PASS peer: 4194304 bytes received and 250000 sent" "$WORK/peer.out" || fail "peer: $(cat "$WORK/peer.out")"
  check_quiet "$WORK/rapp.err" restore
  log "$addr: connection carried, $(grep -o 'ready.*' "$WORK/app.out"), streams intact both ways"
done

# A dual-stack listener's connection (an IPv6 socket with IPv4-mapped
# addresses, as node's and many servers' are): the peer side is dumped.
start peer "$PROGRAMS/tcp_stream" peer :: 5050
wait_lines peer 1
start app "$PROGRAMS/tcp_stream" app 127.0.0.1 5050
wait_lines app 1
wait_lines peer 2
dump peer "$WORK/mapped.ckpt" --tcp-established
"$CKPT" inspect "$WORK/mapped.ckpt" >"$WORK/inspect.out" || fail "ckpt inspect failed"
grep -q '^tcp connection .*\[::ffff:127.0.0.1\]:5050 -> \[::ffff:127.0.0.1\]:' "$WORK/inspect.out" ||
  fail "inspect: $(grep '^tcp' "$WORK/inspect.out")"
restore_start rpeer "$WORK/mapped.ckpt"
wait_port_established 5050 2
send rpeer go
send app go
wait_exit rpeer 0
wait_exit app 0
grep -q "^PASS peer: 4194304 bytes received and 250000 sent" "$WORK/rpeer.out" || fail "restored peer: $(cat "$WORK/rpeer.out")"
grep -q "^PASS app: 250000 bytes received and 4194304 sent" "$WORK/app.out" || fail "app: $(cat "$WORK/app.out")"
log "a dual-stack listener's connection (IPv4-mapped IPv6 addresses): carried, streams intact"

# Both ends in the dumped process.
start pair "$PROGRAMS/tcp_stream" pair 127.0.0.1 5100
wait_lines pair 1
wait_established 2
dump pair "$WORK/pair.ckpt" --tcp-established
wait_established 0
restore_start rpair "$WORK/pair.ckpt"
wait_established 2
send rpair go
wait_exit rpair 0
grep -q "^PASS pair: 250000 and 4194304 bytes received" "$WORK/rpair.out" || fail "restored pair: $(cat "$WORK/rpair.out")"
log "a loopback connection with both ends in the process: both repaired, streams intact"
log PASS

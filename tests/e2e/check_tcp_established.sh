# Established TCP connections carried alive (`ckpt dump --tcp-established`,
# TCP_REPAIR), in a network namespace of the test's own:
#   - a client (tcp_stream app) with 40000 unread bytes in its receive
#     queue and megabytes its peer had no room for in its send queue is
#     dumped with --kill and restored; its peer, outside the dumped process,
#     then reads the app's whole stream and sends the rest of its own: every
#     byte in order at its offset, no reset, a clean end of file both ways;
#     over IPv4 and IPv6;
#   - the image shows the connection (inspect) and verifies;
#   - the accepted end of a dual-stack (::) listener, IPv4-mapped, in
#     CLOSE-WAIT: the peer side is dumped and restored instead;
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
  dump_tcp app "$WORK/app.ckpt"
  wait_established 1  # the original's end went away without a FIN or RST
  verify "$WORK/app.ckpt"
  "$CKPT" inspect "$WORK/app.ckpt" >"$WORK/inspect.out" || fail "ckpt inspect failed"
  grep -q "tcp connection .* -> .*:$port ESTABLISHED, send queue [1-9][0-9]* bytes" "$WORK/inspect.out" ||
    fail "inspect does not show the connection: $(grep -i tcp "$WORK/inspect.out")"
  restore_start rapp "$WORK/app.ckpt"
  wait_established 2  # the restored end exists (in repair mode until it resumes)
  send rapp go
  wait_lines rapp 1  # "resumed": live again before its peer moves
  send peer go
  wait_exit rapp 0
  wait_exit peer 0
  grep -q "^PASS app: 250000 bytes received and 4194304 sent" "$WORK/rapp.out" || fail "restored app: $(cat "$WORK/rapp.out")"
  grep -q "^PASS peer: 4194304 bytes received and 250000 sent" "$WORK/peer.out" || fail "peer: $(cat "$WORK/peer.out")"
  check_quiet "$WORK/rapp.err" restore
  log "$addr: connection carried, $(grep -o 'ready.*' "$WORK/app.out"), streams intact both ways"
done

# A dual-stack listener's connection (an IPv6 socket with IPv4-mapped
# addresses, as node's and many servers' are), its peer side dumped. The
# side left running must stay quiet while nothing holds the connection (a
# zero-window probe would be answered with a reset): the app sends nothing
# and shuts its direction down (TCP_STREAM_SHUT=wr-idle), so the dumped end
# is in CLOSE-WAIT, whose FIN goes on the wire as IPv4.
start peer env TCP_STREAM_SHUT=wr-idle "$PROGRAMS/tcp_stream" peer :: 5050
wait_lines peer 1
start app env TCP_STREAM_SHUT=wr-idle "$PROGRAMS/tcp_stream" app 127.0.0.1 5050
wait_lines app 1
wait_lines peer 2
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  grep -q ':5050 ' <<<"$(ss -Htn state close-wait)" && break
  sleep 0.05
done
dump_tcp peer "$WORK/mapped.ckpt"
"$CKPT" inspect "$WORK/mapped.ckpt" >"$WORK/inspect.out" || fail "ckpt inspect failed"
grep -q '^tcp connection .*\[::ffff:127.0.0.1\]:5050 -> \[::ffff:127.0.0.1\]:[0-9]* CLOSE-WAIT' "$WORK/inspect.out" ||
  fail "inspect: $(grep '^tcp' "$WORK/inspect.out")"
restore_start rpeer "$WORK/mapped.ckpt"
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  grep -q ':5050 ' <<<"$(ss -Htn state close-wait)" && break
  sleep 0.05
done
send rpeer go
wait_lines rpeer 1
send app go
wait_exit rpeer 0
wait_exit app 0
grep -q "^PASS peer: 0 bytes received and 250000 sent" "$WORK/rpeer.out" || fail "restored peer: $(cat "$WORK/rpeer.out")"
grep -q "^PASS app: 250000 bytes received and 0 sent" "$WORK/app.out" || fail "app: $(cat "$WORK/app.out")"
log "a dual-stack listener's connection (IPv4-mapped IPv6 addresses, CLOSE-WAIT): carried, stream intact"

# Both ends in the dumped process.
start pair "$PROGRAMS/tcp_stream" pair 127.0.0.1 5100
wait_lines pair 1
wait_established 2
dump_tcp pair "$WORK/pair.ckpt"
wait_established 0
restore_start rpair "$WORK/pair.ckpt"
wait_established 2
send rpair go
wait_exit rpair 0
grep -q "^PASS pair: 250000 and 4194304 bytes received" "$WORK/rpair.out" || fail "restored pair: $(cat "$WORK/rpair.out")"
log "a loopback connection with both ends in the process: both repaired, streams intact"
log PASS

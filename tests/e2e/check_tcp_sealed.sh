# A connection dumped with --kill --tcp-established is sealed from its peer
# between the dump's last look at it and the kill: whatever either side
# sends in that time must not pass, or the image (already written) no
# longer describes the connection. The peer's program moves exactly then:
# ckpt is stopped (CKPT_FAULT=stop, CKPT_FAULT_AT naming the point) at
# "dump: tcp frozen", after the last look and before the image is committed
# and the process killed, and the peer is told to go: it reads (its window
# opens, so the original's kernel would send data the image calls unsent:
# zero-window probes and retransmissions of data repair mode marked sent go
# out even in repair mode) and sends its own rest (which the original would
# take). ckpt then goes on: the dump must succeed, and the restored
# connection must carry both streams to their ends, byte for byte. Before
# the seal, the peer's data made the dump fail after the kill, and data the
# original sent made the restored connection stall: the peer acknowledged
# past the restored socket's snd_nxt, and the kernel drops such a segment
# with its data, in both directions.
source "$(dirname "$0")/tcp.sh"

# peer_socket: the ss -ti lines of the peer's end (local port 7001).
peer_socket() { ss -Htin "sport = :7001" | tr -s '\n\t' '  '; }

start peer "$PROGRAMS/tcp_stream" peer 127.0.0.1 7001
wait_lines peer 1
start app "$PROGRAMS/tcp_stream" app 127.0.0.1 7001
wait_lines app 1
wait_lines peer 2
pid=$PID_app
disown "$pid"
for ((try = 1; try <= 10; try++)); do
  CKPT_FAULT=stop CKPT_FAULT_AT="dump: tcp frozen" "$CKPT" dump "$pid" -o "$WORK/app.ckpt" --kill --tcp-established \
    >"$WORK/dump.out" 2>"$WORK/dump.err" &
  dpid=$!
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    [[ $(proc_state "$dpid") == [Tt] || $(proc_state "$dpid") == gone || $(proc_state "$dpid") == Z ]] && break
    sleep 0.05
  done
  if [[ $(proc_state "$dpid") != [Tt] ]]; then  # ended before the point: only "dump again" may end it
    wait "$dpid"
    grep -q 'dump again' "$WORK/dump.err" || fail "ckpt dump ended before its fault point: $(cat "$WORK/dump.err")"
    continue
  fi
  break
done
((try <= 10)) || fail "ckpt dump was refused 10 times: $(cat "$WORK/dump.err")"
# ckpt is stopped after its last look at the connection: the peer goes,
# until its kernel shows what became of its segments: retransmitted for
# want of an acknowledgement (sealed), or acknowledged by the original.
send peer go
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  s=$(peer_socket)
  [[ $s =~ backoff:[1-9] ]] && break
  [[ $s =~ bytes_acked:([0-9]+) ]] && ((BASH_REMATCH[1] > 50000)) && break
  sleep 0.05
done
log "while ckpt was stopped after its last look, the peer's end: $(grep -oE 'bytes_acked:[0-9]+|bytes_received:[0-9]+|backoff:[0-9]+' <<<"$s" | tr '\n' ' ')"
kill -CONT "$dpid"
wait "$dpid" || fail "ckpt dump (stopped after its last look while the peer moved): $(cat "$WORK/dump.err")"
check_quiet "$WORK/dump.err" "ckpt dump"
wait_gone app
restore_start rapp "$WORK/app.ckpt"
send rapp go
wait_lines rapp 1  # "resumed"
wait_exit rapp 0
wait_exit peer 0
grep -q "^PASS app: 250000 bytes received and 4194304 sent" "$WORK/rapp.out" || fail "restored app: $(cat "$WORK/rapp.out")"
grep -q "^PASS peer: 4194304 bytes received and 250000 sent" "$WORK/peer.out" || fail "peer: $(cat "$WORK/peer.out")"
check_quiet "$WORK/rapp.err" restore
log "the peer moved between ckpt's last look and the kill: nothing passed either way, streams intact both ways"
log PASS

# redis-server (issue 14) with a dataset and a client in the middle of a
# session on ONE connection (tests/e2e/redis_session.py), in a network
# namespace of the test's own: the server is dumped with --kill
# --tcp-established and restored; the client then goes on over the very
# same socket, and the server knows it as the same client (CLIENT ID and
# name), with the dataset intact. Private config in the work dir: no
# persistence, nothing written outside it.
source "$(dirname "$0")/tcp.sh"
REDIS=$(command -v redis-server) || { echo "$TEST_NAME: SKIP: needs redis-server (Debian package redis-server)"; exit 77; }
PYTHON=$(command -v python3) || fail "needs python3"

PORT=6390
cat >"$WORK/redis.conf" <<EOC
port $PORT
bind 127.0.0.1
save ""
appendonly no
dir $WORK
daemonize no
logfile ""
EOC
start server "$REDIS" "$WORK/redis.conf"
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  grep -q ":$PORT " <<<"$(ss -Htln)" && break
  sleep 0.05
done
grep -q ":$PORT " <<<"$(ss -Htln)" || fail "redis-server does not listen on $PORT"
start client "$PYTHON" "$(dirname "$0")/redis_session.py" "$PORT"
wait_lines client 1
grep -q '^ready' "$WORK/client.out" || fail "client: $(cat "$WORK/client.out")"
wait_established 2
dump server "$WORK/redis.ckpt" --tcp-established
wait_established 1
restore_start back "$WORK/redis.ckpt"
wait_established 2
send client go
wait_exit client 0
grep -q '^PASS' "$WORK/client.out" || fail "client: $(cat "$WORK/client.out")"
log "$(grep '^ready' "$WORK/client.out"); after restore: $(grep '^PASS' "$WORK/client.out")"
log PASS

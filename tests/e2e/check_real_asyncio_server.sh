#!/usr/bin/env bash
# A Python asyncio server (issue 14) with a connected client dumped in the
# middle of their conversation (tests/e2e/asyncio_conversation.py), in a
# network namespace of the test's own: after three exchanges the client has
# sent half a line, which the server's stream reader holds; the server is
# dumped with --kill --tcp-established and restored; the client finishes
# the line and sends one more, over the same connection, and the sums go on.
# asyncio's loop also holds a self-pipe, a Unix socket pair, carried with
# the rest (e2e.check_real_asyncio tests that pair on its own).
source "$(dirname "$0")/tcp.sh"
PYTHON=$(command -v python3) || fail "needs python3"
SCRIPT="$(dirname "$0")/asyncio_conversation.py"

PORT=8003
start server "$PYTHON" "$SCRIPT" server "$PORT"
wait_lines server 1
start client "$PYTHON" "$SCRIPT" client "$PORT"
wait_lines client 1
grep -q '^ready' "$WORK/client.out" || fail "client: $(cat "$WORK/client.out")"
wait_established 2
dump server "$WORK/asyncio.ckpt" --tcp-established
wait_established 1
restore_start back "$WORK/asyncio.ckpt"
wait_established 2
send client go
wait_exit client 0
grep -q '^PASS' "$WORK/client.out" || fail "client: $(cat "$WORK/client.out")"
log "after restore: $(grep '^PASS' "$WORK/client.out")"
log PASS

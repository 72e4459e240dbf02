#!/usr/bin/env bash
# `python3 -m http.server --bind 127.0.0.1 PORT` (issue 14), in a network
# namespace of the test's own: it serves a directory listing, is dumped
# with --kill (its listening socket carried), and the restored server
# answers curl with the same listing, and serves a file's bytes.
source "$(dirname "$0")/netns.sh"
source "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "$TEST_NAME: SKIP: needs curl"; exit 77; }

PYTHON=/usr/bin/python3
PORT=8000
SITE="$WORK/site"
mkdir -p "$SITE/sub"
printf 'hello from before the dump\n' >"$SITE/hello.txt"
seq 1 1000 >"$SITE/numbers.txt"
touch "$SITE/sub/inner"

# fetch NAME PATH: the body of http://127.0.0.1:$PORT/PATH into $WORK/NAME,
# waiting (bounded) until the server answers.
fetch() {
  local i
  for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
    curl -sf --max-time 5 "http://127.0.0.1:$PORT/$2" -o "$WORK/$1" && return 0
    sleep 0.1
  done
  fail "no answer from http://127.0.0.1:$PORT/$2 within ${WAIT_SECONDS}s"
}

cd "$SITE" || fail "cd $SITE"
start server "$PYTHON" -m http.server --bind 127.0.0.1 "$PORT"
fetch before.html ""
grep -q 'hello.txt' "$WORK/before.html" || fail "the listing before the dump does not show hello.txt"
dump server "$WORK/server.ckpt"
curl -s --max-time 2 "http://127.0.0.1:$PORT/" >/dev/null && fail "something still answers on port $PORT after the dump"

restore_start back "$WORK/server.ckpt"
fetch after.html ""
expect_same "the directory listing" "$WORK/before.html" "$WORK/after.html"
fetch hello "hello.txt"
expect_same "hello.txt" "$SITE/hello.txt" "$WORK/hello"
fetch numbers "numbers.txt"
expect_same "numbers.txt" "$SITE/numbers.txt" "$WORK/numbers"
grep -q '"GET /hello.txt HTTP/1.1" 200' "$WORK/back.err" || fail "the restored server did not log the request"
log "PASS: the restored http.server answered with the same listing ($(wc -c <"$WORK/after.html") bytes) and files"

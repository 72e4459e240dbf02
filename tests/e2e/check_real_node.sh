#!/usr/bin/env bash
# A `node` HTTP server (issue 14), listening on 127.0.0.1 in a network
# namespace of the test's own, with no client connected: node's event loop
# holds its listening socket in an epoll set beside an eventfd and the
# pipes of its worker threads. It is dumped with --kill; the restored
# server answers new requests, counting on from where it was.
source "$(dirname "$0")/netns.sh"
source "$(dirname "$0")/lib.sh"
NODE=$(command -v node || command -v nodejs) || { echo "$TEST_NAME: SKIP: needs node (Debian package nodejs)"; exit 77; }
command -v curl >/dev/null || { echo "$TEST_NAME: SKIP: needs curl"; exit 77; }

PORT=8001
SERVER='
let served = 0;
const server = require("http").createServer((req, res) => {
  served++;
  res.setHeader("Connection", "close");
  res.end("request " + served + " for " + req.url + " from pid-independent state\n");
});
server.listen(Number(process.argv[1]), "127.0.0.1", () => console.log("listening"));
'

# get PATH: the body of http://127.0.0.1:$PORT/PATH, waiting (bounded) for an answer.
get() {
  local i body
  for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
    body=$(curl -sf --max-time 5 "http://127.0.0.1:$PORT/$1") && { printf '%s\n' "$body"; return 0; }
    sleep 0.1
  done
  fail "no answer from http://127.0.0.1:$PORT/$1 within ${WAIT_SECONDS}s"
}

start server "$NODE" -e "$SERVER" "$PORT"
wait_lines server 1
[[ $(get a) == "request 1 for /a from pid-independent state" ]] || fail "node's first answer was not as expected"
[[ $(get b) == "request 2 for /b from pid-independent state" ]] || fail "node's second answer was not as expected"
# No client may be connected at the dump: wait until node has closed both
# connections (it holds one socket, its listener, and no other).
pid=$(pid_of server)
for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
  sockets=$(find "/proc/$pid/fd" -lname 'socket:*' 2>/dev/null | wc -l)
  ((sockets == 1)) && break
  sleep 0.1
done
((sockets == 1)) || fail "node holds $sockets sockets, expected only its listener"
dump server "$WORK/node.ckpt"
restore_start back "$WORK/node.ckpt"
got=$(get c)
[[ $got == "request 3 for /c from pid-independent state" ]] || fail "the restored node answered '$got'"
[[ $(get d) == "request 4 for /d from pid-independent state" ]] || fail "the restored node's second answer differs"
log "PASS: the restored node server answered: $got"

# A `node` HTTP server (issue 14) with a keep-alive client connected, in a
# network namespace of the test's own: the client (http_keepalive.py) makes
# two requests on one connection; node is dumped with --kill
# --tcp-established and restored; the same connection serves the next
# request, which node counts as that connection's third.
source "$(dirname "$0")/tcp.sh"
NODE=$(command -v node || command -v nodejs) || { echo "$TEST_NAME: SKIP: needs node (Debian package nodejs)"; exit 77; }
PYTHON=$(command -v python3) || fail "needs python3"

PORT=8002
SERVER='
let connections = 0;
const server = require("http").createServer((req, res) => {
  const s = req.socket;
  s.served = (s.served || 0) + 1;
  res.end("connection " + s.id + " from port " + s.remotePort + " request " + s.served + " for " + req.url + "\n");
});
server.on("connection", (s) => { s.id = ++connections; });
server.keepAliveTimeout = 0;  // an idle connection stays open however long the dump takes
server.listen(Number(process.argv[1]), "127.0.0.1", () => console.log("listening"));
'
start server "$NODE" -e "$SERVER" "$PORT"
wait_lines server 1
start client "$PYTHON" "$(dirname "$0")/http_keepalive.py" "$PORT"
wait_lines client 1
grep -q '^ready connection 1 from port [0-9]* request 1 for /a | connection 1 from port [0-9]* request 2 for /b$' \
  "$WORK/client.out" || fail "client before the dump: $(cat "$WORK/client.out")"
wait_established 2
dump server "$WORK/node.ckpt" --tcp-established
wait_established 1
restore_start back "$WORK/node.ckpt"
wait_established 2
send client go
wait_exit client 0
grep -q '^PASS connection 1 from port [0-9]* request 3 for /c$' "$WORK/client.out" ||
  fail "client after restore: $(cat "$WORK/client.out")"
log "$(grep '^ready' "$WORK/client.out"); after restore: $(grep '^PASS' "$WORK/client.out")"
log PASS

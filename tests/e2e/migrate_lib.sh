# Set-up shared by the migration tests (check_migrate*.sh). Sourced first
# thing, in place of lib.sh: it runs the test again inside a network
# namespace of its own (`unshare -n`, only its loopback up), then sources
# lib.sh, writes a token to $WORK/token (mode 0600), and defines:
#   untouched WHEN    the source ($pid) runs or sleeps and nobody traces it
#   listen NAME [ENV...]
#                     restore --listen $ADDR as NAME (extra flags in
#                     $LISTEN_FLAGS), waited for until it listens
# Each test sets ADDR and pid.
if [[ -z ${CKPT_MIGRATE_NETNS:-} ]]; then
  unshare -n true 2>/dev/null || {
    echo "$(basename "$0" .sh): SKIP: cannot create a network namespace (unshare -n needs root here)"
    exit 77
  }
  CKPT_MIGRATE_NETNS=1 exec unshare -n bash "$0" "$@"
fi
source "$(dirname "$0")/lib.sh"
ip link set lo up || fail "cannot bring up lo in the test's network namespace"

umask 077
head -c 24 /dev/urandom | base64 >"$WORK/token"

untouched() {
  local state tracer
  state=$(proc_state "$pid")
  [[ $state == S || $state == R ]] || fail "the source (pid $pid) is in state '$state' after $1"
  tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status")
  [[ $tracer == 0 ]] || fail "the source (pid $pid) is still traced by $tracer after $1"
}

listen() {
  local name=$1 i; shift
  _spawn "$name" env "$@" "$RESTORE" --listen "$ADDR" --token-file "$WORK/token" ${LISTEN_FLAGS:-}
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    grep -q 'listening on' "$WORK/$name.err" 2>/dev/null && return 0
    sleep 0.05
  done
  fail "restore --listen $ADDR did not start listening"
}

# Sourced by the check_tcp_*.sh scripts (established TCP connections,
# `ckpt dump --tcp-established`): runs the calling script again in a network
# namespace of its own with only the loopback interface up, so that every
# address it uses (127.0.0.1, ::1) and every port is its own, then sources
# lib.sh. TCP_REPAIR needs CAP_NET_ADMIN, and unshare needs root: without
# them the script is skipped, saying so.
if [[ -z ${CKPT_TCP_NETNS:-} ]]; then
  if ! unshare -n true 2>/dev/null; then
    echo "$(basename "$0" .sh): SKIP: cannot create a network namespace (unshare -n needs root)" >&2
    exit 77
  fi
  CKPT_TCP_NETNS=1 exec unshare -n bash "$0" "$@"
fi
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ip link set lo up || fail "cannot bring lo up in the test's network namespace"

# established_count: TCP sockets of this namespace in ESTABLISHED state.
established_count() { ss -Htn state established | wc -l; }

# wait_established N: until exactly N established TCP sockets exist here.
wait_established() {
  local i
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    (($(established_count) == $1)) && return 0
    sleep 0.05
  done
  fail "expected $1 established TCP sockets, found $(established_count): $(ss -tn)"
}

# Sourced by the tests of established TCP connections (`ckpt dump
# --tcp-established`): runs the calling script in a network namespace of its
# own (netns.sh: only loopback, every port its own; skipped, saying why,
# where none can be made), sources lib.sh, and adds what they share.
source "$(dirname "${BASH_SOURCE[0]}")/netns.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

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

# wait_port_established PORT N: until exactly N established TCP sockets
# here have PORT as their local or peer port.
wait_port_established() {
  local i n=0
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    n=$(ss -Htn state established | grep -cE ":$1( |\$)")
    ((n == $2)) && return 0
    sleep 0.05
  done
  fail "expected $2 established TCP sockets on port $1, found $n: $(ss -tn)"
}

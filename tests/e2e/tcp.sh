# Sourced by the tests of established TCP connections (`ckpt dump
# --tcp-established`): runs the calling script in a network namespace of its
# own (netns.sh: only loopback, every port its own; skipped, saying why,
# where none can be made), sources lib.sh, and adds what they share.
source "$(dirname "${BASH_SOURCE[0]}")/netns.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# dump_tcp NAME IMAGE [ARGS...]: `dump` (lib.sh) with --tcp-established,
# tried again while ckpt refuses because the connection moved on during the
# dump ("dump again": the kernel sent or received data meanwhile, which the
# image would lack). Such a refusal leaves the process running, untouched.
dump_tcp() {
  local name=$1 img=$2 pid try
  shift 2
  pid=$(pid_of "$name")
  for ((try = 1; try <= 10; try++)); do
    "$CKPT" dump "$pid" -o "$img" --compress "$COMPRESS" --kill --tcp-established "$@" \
      >"$WORK/dump-$name.out" 2>"$WORK/dump-$name.err" && break
    grep -q 'dump again' "$WORK/dump-$name.err" || fail "ckpt dump $pid --tcp-established: $(cat "$WORK/dump-$name.err")"
  done
  ((try <= 10)) || fail "ckpt dump $pid was refused 10 times: $(cat "$WORK/dump-$name.err")"
  check_quiet "$WORK/dump-$name.err" "ckpt dump"
  disown "$pid"
  wait_gone "$name"
}

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

#!/usr/bin/env bash
# Ping and netlink sockets at restore (issue 14), in a network namespace of
# the test's own: an image with ping sockets is refused by `restore
# --check` and `restore` when net.ipv4.ping_group_range no longer lets the
# caller open them, and one with a netlink socket when its port id is
# taken by another socket; one line each, exit 1, nothing run. Once both
# are fine again, the same image restores and passes its check.
source "$(dirname "$0")/netns.sh"
source "$(dirname "$0")/lib.sh"
prog=state_inet_ping_netlink
RANGE=/proc/sys/net/ipv4/ping_group_range  # this namespace's own

refused() {
  local words=$1 mode rc
  for mode in --check ""; do
    "$RESTORE" $mode "$WORK/$prog.ckpt" >"$WORK/r.out" 2>"$WORK/r.err" </dev/null
    rc=$?
    ((rc == 1)) || fail "restore $mode exited $rc, expected 1: $(head -n 3 "$WORK/r.err")"
    (($(wc -l <"$WORK/r.err") == 1)) || fail "restore $mode printed more than one line: $(cat "$WORK/r.err")"
    grep -q "$words" "$WORK/r.err" || fail "restore $mode does not say '$words': $(cat "$WORK/r.err")"
    grep -q . "$WORK/r.out" && fail "restore $mode ran the program although it refused"
    log "restore ${mode:-(plain)} refused: $(cat "$WORK/r.err")"
  done
}

echo "0 2147483647" >$RANGE || fail "cannot allow ping sockets in the test's namespace"
start orig "$PROGRAMS/$prog"
wait_lines orig 1
dump orig "$WORK/$prog.ckpt"

echo "1 0" >$RANGE
refused 'net.ipv4.ping_group_range'
echo "0 2147483647" >$RANGE

start squatter /usr/bin/python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0); s.bind((777777, 0))
print("bound", flush=True)
sys.stdin.read()'
wait_lines squatter 1
refused 'cannot bind its port id again here'
close_input squatter
wait_exit squatter 0

restored_must_pass "$WORK/$prog.ckpt" "$prog"

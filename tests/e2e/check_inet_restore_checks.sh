#!/usr/bin/env bash
# Internet sockets at restore (issue 14), in a network namespace of the
# test's own: (1) a listening port that another socket holds at restore
# time is refused by `restore --check` and by `restore`, before the point
# of no return, exit 1, one line naming the port; once it is free, the same
# image restores and its check passes. The same for the source of a queued
# datagram held by another socket, an address not of this machine, a
# backlog above net.core.somaxconn, and (restore only, before the point of
# no return) datagrams that do not fit in their socket's receive buffer.
# (2) Crafted socket records (unknown
# state, family or option, a negative backlog, a record no fd names) are refused with one
# line saying what is wrong in inet_sockets.
source "$(dirname "$0")/netns.sh"
source "$(dirname "$0")/lib.sh"
prog=state_inet_sockets
EDIT="$PROGRAMS/../tools/image_edit"

start orig "$PROGRAMS/$prog"
wait_lines orig 1
dump orig "$WORK/$prog.ckpt"

# (1) 127.0.0.1:40001 (the program's first listener) taken by someone else.
start squatter /usr/bin/python3 -u -c '
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 40001)); s.listen()
print("listening", flush=True)
sys.stdin.read()'
wait_lines squatter 1
for mode in --check ""; do
  "$RESTORE" $mode "$WORK/$prog.ckpt" >"$WORK/taken.out" 2>"$WORK/taken.err" </dev/null
  rc=$?
  ((rc == 1)) || fail "restore $mode with port 40001 taken exited $rc, expected 1"
  (($(wc -l <"$WORK/taken.err") == 1)) || fail "restore $mode printed more than one line: $(cat "$WORK/taken.err")"
  grep -q 'port 40001 is taken' "$WORK/taken.err" || fail "restore $mode does not name the taken port: $(cat "$WORK/taken.err")"
  grep -q . "$WORK/taken.out" && fail "restore $mode ran the program although it refused: $(cat "$WORK/taken.out")"
  log "restore ${mode:-(plain)} refused: $(cat "$WORK/taken.err")"
done
close_input squatter
wait_exit squatter 0
"$RESTORE" --check "$WORK/$prog.ckpt" >"$WORK/check.out" 2>&1 || fail "restore --check with the port free: $(cat "$WORK/check.out")"
restored_must_pass "$WORK/$prog.ckpt" "$prog"

# refused_by MODE EDIT WORDS: restore MODE of the image edited by EDIT (or
# as it is, for "-") exits 1 with one line saying WORDS and runs nothing.
refused_by() {
  local mode=$1 edit=$2 words=$3 img="$WORK/$prog.ckpt" rc
  if [[ $edit != - ]]; then
    img="$WORK/edited.ckpt"
    "$EDIT" "$WORK/$prog.ckpt" "$img" $edit >"$WORK/edit.err" 2>&1 || fail "image_edit $edit: $(cat "$WORK/edit.err")"
  fi
  "$RESTORE" $mode "$img" >"$WORK/r.out" 2>"$WORK/r.err" </dev/null
  rc=$?
  ((rc == 1)) || fail "restore $mode ($edit) exited $rc, expected 1: $(head -n 3 "$WORK/r.err")"
  (($(wc -l <"$WORK/r.err") == 1)) || fail "restore $mode ($edit) printed more than one line: $(cat "$WORK/r.err")"
  grep -q "$words" "$WORK/r.err" || fail "restore $mode ($edit) does not say '$words': $(cat "$WORK/r.err")"
  grep -q . "$WORK/r.out" && fail "restore $mode ($edit) ran the program although it refused"
  log "restore $mode ($edit) refused: $(cat "$WORK/r.err")"
}

# The source of a queued datagram (127.0.0.1:40006, a socket closed before
# the dump) now held by a socket that does not share it.
start udpsquatter /usr/bin/python3 -u -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 40006))
print("bound", flush=True)
sys.stdin.read()'
wait_lines udpsquatter 1
refused_by --check - 'cannot send a queued datagram again from its source 127.0.0.1:40006'
refused_by "" - 'cannot send a queued datagram again from its source 127.0.0.1:40006'
close_input udpsquatter
wait_exit udpsquatter 0
refused_by --check "sock_pick=listen sock_addr=192.0.2.1" 'cannot bind it to 192.0.2.1:40001 here'
refused_by --check "sock_pick=listen sock_backlog=1000000" 'above net.core.somaxconn'
big=()
for ((i = 0; i < 40; i++)); do big+=(sock_datagram=60000); done
refused_by "" "sock_pick=udp ${big[*]}" 'datagrams were sent to it again but'

# (2) Crafted records.
cases=(
  'sock_state=9|unknown socket state'
  'sock_family=1|is not IPv4, IPv6 or netlink'
  'sock_option=1|unknown socket option'
  'sock_backlog=-1|backlog out of range'
  'sock_unnamed=1|named by no fd'
)
for c in "${cases[@]}"; do
  edit=${c%%|*}
  want=${c#*|}
  "$EDIT" "$WORK/$prog.ckpt" "$WORK/bad.ckpt" "$edit" >"$WORK/edit.err" 2>&1 || fail "image_edit $edit: $(cat "$WORK/edit.err")"
  "$RESTORE" --check "$WORK/bad.ckpt" >"$WORK/bad.out" 2>"$WORK/bad.err" </dev/null
  rc=$?
  ((rc == 1)) || fail "restore of an image with $edit exited $rc, expected 1"
  (($(wc -l <"$WORK/bad.err") == 1)) || fail "restore ($edit) printed more than one line: $(cat "$WORK/bad.err")"
  grep -q "$want" "$WORK/bad.err" || fail "restore ($edit) did not say '$want': $(cat "$WORK/bad.err")"
  log "$edit refused: $(cat "$WORK/bad.err")"
done
log PASS

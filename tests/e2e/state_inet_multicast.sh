#!/usr/bin/env bash
# state_inet_multicast (see the program): the state.sh protocol in a
# network namespace of the test's own; and the image with a group's
# interface changed to one this namespace lacks is refused by `restore
# --check`, one line naming the group and the interface.
source "$(dirname "$0")/netns.sh"
source "$(dirname "$0")/lib.sh"
prog=${1:?usage: state_inet_multicast.sh PROGRAM}

fresh_must_fail "$prog"
start orig "$PROGRAMS/$prog"
wait_lines orig 1
dump orig "$WORK/$prog.ckpt"

"$PROGRAMS/../tools/image_edit" "$WORK/$prog.ckpt" "$WORK/bad.ckpt" sock_pick=multicast sock_mcast_if=77 \
  >"$WORK/edit.err" 2>&1 || fail "image_edit: $(cat "$WORK/edit.err")"
"$RESTORE" --check "$WORK/bad.ckpt" >"$WORK/bad.out" 2>"$WORK/bad.err" </dev/null
rc=$?
((rc == 1)) && (($(wc -l <"$WORK/bad.err") == 1)) && grep -q 'on interface 77: there is no interface 77 here' "$WORK/bad.err" ||
  fail "restore --check of a group on a missing interface: exit $rc, $(cat "$WORK/bad.err")"
log "refused: $(cat "$WORK/bad.err")"

restored_must_pass "$WORK/$prog.ckpt" "$prog"

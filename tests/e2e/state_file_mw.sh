#!/usr/bin/env bash
# state_file_mw (tests/programs/state_file_mw.c) under the state.sh protocol,
# run in $WORK (the program makes its files in its current directory), plus
# the refusal: when the file cannot be opened for writing at restore (a
# read-only bind mount over the directory, in a private mount namespace),
# restore refuses before its point of no return, naming the file.
source "$(dirname "$0")/lib.sh"
prog=state_file_mw
TEST_NAME=$prog
cd "$WORK" || fail "cd $WORK"

fresh_must_fail "$prog"

start orig "$PROGRAMS/$prog"
wait_lines orig 1
grep -q '^ready' "$WORK/orig.out" || fail "$prog did not print ready"
dump orig "$WORK/$prog.ckpt"

# Refused: the directory is read-only now.
unshare -m bash -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && exec "$2" "$3"' _ \
  "$WORK" "$RESTORE" "$WORK/$prog.ckpt" >"$WORK/ro.out" 2>"$WORK/ro.err"
rc=$?
((rc == 1)) || fail "restore with mw.data on a read-only mount exited $rc, expected 1"
grep -q "cannot open $WORK/mw.data for writing" "$WORK/ro.err" || fail "the refusal does not name mw.data: $(cat "$WORK/ro.err")"
[[ $(wc -l <"$WORK/ro.err") == 1 ]] || fail "the refusal is not one line"
log "refused on a read-only mount: $(cat "$WORK/ro.err")"

restored_must_pass "$WORK/$prog.ckpt" "$prog"

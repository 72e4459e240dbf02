#!/usr/bin/env bash
# state_guard (tests/programs/state_guard.c) under the state.sh protocol,
# plus the refusal: a locked area with a guard page cannot be restored
# (guards cannot be installed in a locked area), so the dump refuses it,
# naming the area, and leaves the process running.
source "$(dirname "$0")/lib.sh"
bash "$(dirname "$0")/state.sh" state_guard || exit 1
TEST_NAME=state_guard

start locked "$PROGRAMS/state_guard" --locked
wait_lines locked 2
area=$(awk '/^locked area/ {print $3}' "$WORK/locked.out")
[[ -n $area ]] || fail "state_guard --locked did not say where its area is"
"$CKPT" dump "$PID_locked" -o "$WORK/locked.ckpt" --kill >"$WORK/dump-locked.out" 2>"$WORK/dump-locked.err"
rc=$?
((rc == 1)) || fail "dump of a locked area with guard pages exited $rc, expected 1"
grep -q "cannot dump the mapping 0x$area-.*locked (mlock) and has guard pages" "$WORK/dump-locked.err" ||
  fail "the refusal does not name the area 0x$area: $(cat "$WORK/dump-locked.err")"
[[ -e $WORK/locked.ckpt ]] && fail "a refused dump left an image"
[[ $(proc_state "$PID_locked") == S || $(proc_state "$PID_locked") == R ]] || fail "the refused process did not go on running"
log "refused: $(cat "$WORK/dump-locked.err")"

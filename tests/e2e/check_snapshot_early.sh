#!/usr/bin/env bash
# A snapshot protects its root's memory before the freeze (dumper/Snapshot.h):
# a brief stop makes the userfaultfd, the memory is protected while the
# process runs, a thread of ckpt lifts the protection of each page written
# until the freeze, and the freeze protects again what is unprotected.
# ckpt is held between the early protection and the freeze
# (CKPT_FAULT=wait: only the dumping thread waits, the fault thread goes on)
# while tests/programs/flagflip
#  - writes every page of its area (0xa5): the image must hold 0xa5, not
#    the 0x5a from before nor the 0xa6 it writes after the dump;
#  - runs itself again (exec): the early userfaultfd watches the old address
#    space, so the freeze makes a new one; the snapshot must still succeed,
#    with no warning, and hold the new program.
source "$(dirname "$0")/lib.sh"

# held_snapshot NAME IMAGE COMMAND LINES: a snapshot of NAME held before its
# freeze while NAME runs COMMAND, until NAME has printed LINES lines.
held_snapshot() {
  local name=$1 image=$2 command=$3 lines=$4 i dumper
  rm -f "$image" "$WORK/hold"
  CKPT_FAULT=wait CKPT_FAULT_AT="dump: snapshot protected before the freeze" CKPT_FAULT_FILE="$WORK/hold" \
    "$CKPT" dump "$(pid_of "$name")" -o "$image" --snapshot --json >"$WORK/$name.json" 2>"$WORK/$name.dump.err" &
  dumper=$!
  for ((i = 0; i < WAIT_SECONDS * 100; i++)); do
    [[ -e $WORK/hold ]] && break
    kill -0 "$dumper" 2>/dev/null || break
    sleep 0.01
  done
  [[ -e $WORK/hold ]] || fail "ckpt did not reach the point between its early protection and its freeze: $(cat "$WORK/$name.dump.err")"
  send "$name" "$command"
  wait_lines "$name" "$lines"
  rm -f "$WORK/hold"
  wait "$dumper" || fail "the snapshot of $name, which ran '$command' before its freeze, failed: $(cat "$WORK/$name.dump.err")"
  check_quiet "$WORK/$name.dump.err" "ckpt dump --snapshot"
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["snapshot"] is True and d["prestop_ms"] > 0 and d["warnings"] == [], d' "$WORK/$name.json" ||
    fail "the snapshot was not protected before its freeze, or warned: $(cat "$WORK/$name.json")"
}
# restored_bytes IMAGE WANT: the restored flagflip's area must hold WANT ("BYTES xx yy").
restored_bytes() {
  restore_start back "$1"
  send back check
  wait_lines back 1
  [[ $(tail -n 1 "$WORK/back.out") == "$2" ]] ||
    fail "restored $1 holds '$(tail -n 1 "$WORK/back.out")', not '$2' as at its freeze"
  close_input back
  wait_exit back any
  unset "_PIDS[back]"
}
gone() {
  kill -9 "$(pid_of "$1")"
  wait "$(pid_of "$1")" 2>/dev/null
  unset "_PIDS[$1]"
}

start w "$PROGRAMS/flagflip"
wait_lines w 1
held_snapshot w "$WORK/w.ckpt" write 2
[[ $(tail -n 1 "$WORK/w.out") == ok ]] || fail "flagflip could not write: $(tail -n 1 "$WORK/w.out")"
send w write  # after the freeze: not the image's
wait_lines w 3
[[ $(awk '/^TracerPid:/ {print $2}' "/proc/$PID_w/status") == 0 ]] || fail "after the snapshot the target is traced"
if grep -E '^VmFlags:.* u[wmi]( |$)' "/proc/$PID_w/smaps" >/dev/null; then
  fail "after the snapshot an area of the target is still registered with a userfaultfd"
fi
gone w
restored_bytes "$WORK/w.ckpt" "BYTES a5 a5"
log "written between the early protection and the freeze: in the image"

start x "$PROGRAMS/flagflip"
wait_lines x 1
held_snapshot x "$WORK/x.ckpt" exec 2
grep -q '^AREA' <(tail -n 1 "$WORK/x.out") || fail "flagflip did not run itself again: $(tail -n 1 "$WORK/x.out")"
gone x
restored_bytes "$WORK/x.ckpt" "BYTES 5a 5a"
log "an exec between the early protection and the freeze: a new userfaultfd, an exact snapshot"

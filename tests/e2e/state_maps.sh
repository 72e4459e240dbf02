#!/usr/bin/env bash
# No trace of the restorer: a process (tests/programs/state_maps.c) prints
# its /proc/self/maps, is dumped with --kill and restored, and prints them
# again. The two must be identical line for line: addresses, permissions,
# offsets, devices, inodes, paths, and the [heap], [stack], [vdso] and
# [vvar] labels. No page of the trampoline, no staging area, no guard page
# may remain. The restored process must also hold only fds 0, 1 and 2, not
# be traced, and show the same Sig* masks in /proc/PID/status as the
# original (restore blocks every signal on its way; the saved mask must be
# back, and restore must leave no handler or ignored signal of its own).
# A --fresh run, which does not print its maps the second time, proves the
# comparison can fail.
# Usage: state_maps.sh [PROGRAM]  (CTest passes state_maps)
source "$(dirname "$0")/lib.sh"
prog=${1:-state_maps}
TEST_NAME=$prog

# wait_ends NAME N: waits until NAME has printed N lines "end".
wait_ends() {
  local name=$1 want=$2 have=0 i pid
  pid=$(pid_of "$name")
  for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
    have=$(grep -c '^end$' "$WORK/$name.out")
    ((have >= want)) && return 0
    sleep 0.05
  done
  fail "$name (pid $pid, state $(proc_state "$pid")) printed $have 'end' lines in ${WAIT_SECONDS}s, expected $want"
}

# maps_copy FILE N: the Nth block of maps lines in FILE (the lines before
# the Nth "end" and after the previous one, "ready" left out).
maps_copy() {
  awk -v n="$2" '/^end$/ { block++; next } block == n - 1 && !/^ready$/' "$1"
}

# sig_masks PID: the Sig*/ShdPnd lines of PID's status, SigQ left out (it
# counts the signals queued for the whole user).
sig_masks() {
  grep -E '^(SigPnd|ShdPnd|SigBlk|SigIgn|SigCgt):' "/proc/$1/status"
}

# The comparison must be able to fail.
start fresh "$PROGRAMS/$prog" --fresh
wait_ends fresh 1
head -n 1 "$WORK/fresh.out" | grep -q '^ready$' || fail "$prog --fresh did not print 'ready' first"
send fresh check
wait_ends fresh 2
close_input fresh
wait_exit fresh 0
maps_copy "$WORK/fresh.out" 1 >"$WORK/fresh-maps-1"
maps_copy "$WORK/fresh.out" 2 >"$WORK/fresh-maps-2"
[[ -s $WORK/fresh-maps-1 ]] || fail "$prog --fresh printed no maps before 'end'"
cmp -s "$WORK/fresh-maps-1" "$WORK/fresh-maps-2" && fail "the maps comparison cannot fail: --fresh passed it"

start orig "$PROGRAMS/$prog"
wait_ends orig 1
head -n 1 "$WORK/orig.out" | grep -q '^ready$' || fail "$prog did not print 'ready' first"
maps_copy "$WORK/orig.out" 1 >"$WORK/maps-before"
grep -q ' \[heap\]$' "$WORK/maps-before" || fail "$prog has no [heap] line before the dump"
grep -q ' \[stack\]$' "$WORK/maps-before" || fail "$prog has no [stack] line before the dump"
sig_masks "$(pid_of orig)" >"$WORK/sig-before"
dump orig "$WORK/$prog.ckpt"

restore_start back "$WORK/$prog.ckpt"
send back check
wait_ends back 1
maps_copy "$WORK/back.out" 1 >"$WORK/maps-after"
check_std_fds back
back_pid=$(restored_pid back)
sig_masks "$back_pid" >"$WORK/sig-after"
tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$back_pid/status")
[[ $tracer == 0 ]] || fail "the restored process (pid $back_pid) is traced by $tracer"
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restored $prog"

expect_same "/proc/PID/maps after the restore" "$WORK/maps-before" "$WORK/maps-after"
expect_same "the Sig* masks of /proc/PID/status after the restore" "$WORK/sig-before" "$WORK/sig-after"
log "PASS maps identical ($(wc -l <"$WORK/maps-before") lines), fds 0-2 only, not traced, Sig* masks as before"

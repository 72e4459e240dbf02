#!/usr/bin/env bash
# A process dumped in the middle of nanosleep finishes that sleep after
# restore: ticks 1..40 appear exactly once each, in order, across the output
# before the dump and the output after the restore.
source "$(dirname "$0")/lib.sh"

start run "$PROGRAMS/sleeper" 40
wait_lines run 10
dump run "$WORK/sleeper.ckpt"
before=$(wc -l <"$WORK/run.out")
((before < 40)) || fail "sleeper finished all 40 ticks before the dump took effect"

restore_start back "$WORK/sleeper.ckpt"
wait_exit back 0

seq 1 40 | sed 's/^/tick /' >"$WORK/expected"
cat "$WORK/run.out" "$WORK/back.out" >"$WORK/all.out"
expect_same "ticks across dump and restore (dumped after $before)" "$WORK/expected" "$WORK/all.out"
log "PASS (dumped after tick $before)"

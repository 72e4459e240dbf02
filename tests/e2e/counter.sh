#!/usr/bin/env bash
# A counter whose heap, globals, stack and private file mapping feed a running
# hash is dumped with --kill after 10 steps and restored: every hash printed
# before and after must match an uninterrupted reference run.
source "$(dirname "$0")/lib.sh"

seq 100000 | head -c $((8 * 4096 + 100)) >"$WORK/data"
# One word per line, different every step: the hash takes the line in too.
input() { printf 'counter-line-%d\n' "$@"; }

start ref "$PROGRAMS/counter" "$WORK/data"
send ref $(input $(seq 1 30))
wait_lines ref 30
close_input ref
wait_exit ref 0

start run "$PROGRAMS/counter" "$WORK/data"
send run $(input $(seq 1 10))
wait_lines run 10
dump run "$WORK/counter.ckpt"
verify "$WORK/counter.ckpt"
log "image bytes $(image_bytes "$WORK/counter.ckpt") (compress $COMPRESS)"

restore_start back "$WORK/counter.ckpt"
send back $(input $(seq 11 30))
wait_lines back 20
check_std_fds back
close_input back
wait_exit back 0
check_quiet "$WORK/back.err" "restore"

lines "$WORK/ref.out" 1 10 >"$WORK/expected-before"
lines "$WORK/ref.out" 11 30 >"$WORK/expected-after"
expect_same "output before the dump" "$WORK/expected-before" "$WORK/run.out"
expect_same "output after the restore" "$WORK/expected-after" "$WORK/back.out"
log "PASS"

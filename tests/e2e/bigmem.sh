#!/usr/bin/env bash
# 64 MiB of anonymous memory (distinct, all-zero, untouched and identical
# pages) survives dump --kill and restore: every checksum matches a reference
# run.  Prints the image size and how long the dump took.
source "$(dirname "$0")/lib.sh"

start ref "$PROGRAMS/bigmem"
send ref a b c d e f
wait_lines ref 7
close_input ref
wait_exit ref 0

start run "$PROGRAMS/bigmem"
send run a b c
wait_lines run 4
t0=$(now_ms)
dump run "$WORK/bigmem.ckpt"
t1=$(now_ms)
verify "$WORK/bigmem.ckpt"
echo "image bytes $(image_bytes "$WORK/bigmem.ckpt") (compress $COMPRESS, dump $((t1 - t0)) ms)"

t0=$(now_ms)
restore_start back "$WORK/bigmem.ckpt"
send back d
wait_lines back 1
t1=$(now_ms)
send back e f
wait_lines back 3
close_input back
wait_exit back 0
echo "restore and one step: $((t1 - t0)) ms"

lines "$WORK/ref.out" 1 4 >"$WORK/expected-before"
lines "$WORK/ref.out" 5 7 >"$WORK/expected-after"
expect_same "sums before the dump" "$WORK/expected-before" "$WORK/run.out"
expect_same "sums after the restore" "$WORK/expected-after" "$WORK/back.out"
log "PASS"

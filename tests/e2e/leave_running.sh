#!/usr/bin/env bash
# A dump without --kill is invisible to the process: it carries on exactly as
# an undumped run would.  The image then restores as independent copies that
# run side by side with the original and with each other.
source "$(dirname "$0")/lib.sh"

seq 100000 | head -c $((6 * 4096)) >"$WORK/data"
input() { printf 'step-%d\n' "$@"; }

start ref "$PROGRAMS/counter" "$WORK/data"
send ref $(input $(seq 1 30))
wait_lines ref 30
close_input ref
wait_exit ref 0

start live "$PROGRAMS/counter" "$WORK/data"
send live $(input $(seq 1 10))
wait_lines live 10
dump_live live "$WORK/live.ckpt"
verify "$WORK/live.ckpt"

restore_start copy1 "$WORK/live.ckpt"
restore_start copy2 "$WORK/live.ckpt"
# Interleaved, so that any sharing between the three would show.
for i in $(seq 11 30); do
  send live "$(input "$i")"
  send copy1 "$(input "$i")"
  send copy2 "$(input "$i")"
done
wait_lines live 30
wait_lines copy1 20
wait_lines copy2 20
for name in live copy1 copy2; do
  close_input "$name"
  wait_exit "$name" 0
done

lines "$WORK/ref.out" 11 30 >"$WORK/expected-after"
expect_same "the original, dumped without --kill" "$WORK/ref.out" "$WORK/live.out"
expect_same "first restored copy" "$WORK/expected-after" "$WORK/copy1.out"
expect_same "second restored copy" "$WORK/expected-after" "$WORK/copy2.out"
log "PASS"

#!/usr/bin/env bash
# A shell pipeline with data in flight, dumped and restored as a tree
# (issue 13): a generator | gzip | sha256sum, dumped once the generator has
# written half its data (it then waits for a line on stdin, shared by every
# member). After restore it writes the rest; the checksum equals a run
# without checkpoint.
source "$(dirname "$0")/lib.sh"

gen='seq 1 150000; echo half >&2; read -r _; seq 150001 300000'
printf '%s\n' "$( (seq 1 300000) | gzip -1 | sha256sum)" >"$WORK/want"

start pipe bash -c "{ $gen; } | gzip -1 | sha256sum"
for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
  grep -q half "$WORK/pipe.err" && break
  sleep 0.05
done
grep -q half "$WORK/pipe.err" || fail "the generator did not write its first half"
(($(wc -w <"/proc/$PID_pipe/task/$PID_pipe/children") == 3)) || fail "the pipeline has not 3 processes"
dump pipe "$WORK/pipe.ckpt"
restore_start back "$WORK/pipe.ckpt"
send back go
wait_exit back 0
expect_same "the pipeline's checksum" "$WORK/want" "$WORK/back.out"
check_quiet "$WORK/back.err" "restored pipeline"
log "generator | gzip | sha256sum with data in flight: the same checksum as without checkpoint"

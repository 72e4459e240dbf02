#!/usr/bin/env bash
# Decompression before staging (restorer/Predecoder.h): the compressed
# chunks that a thread decompressed while restore ran its checks are
# copied into place, the others decompressed by staging as before.
#   - With CKPT_TEST_PREDECODE=all (staging waits for the thread's whole
#     budget, so the path is taken however fast the machine is), the
#     restored state_compressible must PASS (its memory bit for bit) and
#     --verbose must say that chunks were taken that way.
#   - A zstd chunk with a flipped byte among those the thread takes: the
#     restore must still refuse the image, exit 1, naming the chunk's
#     checksum, before anything ran (the thread's failure is not swallowed).
source "$(dirname "$0")/lib.sh"
prog=state_compressible
EDIT="$PROGRAMS/../tools/image_edit"
[[ -x $EDIT ]] || fail "image_edit not built at $EDIT"

start orig "$PROGRAMS/$prog"
wait_lines orig 1
dump orig "$WORK/$prog.ckpt"
"$CKPT" inspect "$WORK/$prog.ckpt" >"$WORK/inspect.out" || fail "ckpt inspect failed"
grep -Eq '^pages: .*\([1-9][0-9]* raw, [1-9][0-9]* zstd\)' "$WORK/inspect.out" ||
  fail "expected both raw and zstd chunks: $(grep '^pages:' "$WORK/inspect.out")"

export CKPT_TEST_PREDECODE=all
RESTORE_FLAGS=--verbose restore_start back "$WORK/$prog.ckpt"
send back check
close_input back
wait_exit back any
grep -q '^PASS' "$WORK/back.out" && ((EXIT_STATUS == 0)) ||
  fail "restored $prog did not PASS (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/back.out" | head -n 5)"
n=$(sed -n 's/^restore: \([0-9]*\) compressed chunks were decompressed before staging began$/\1/p' "$WORK/back.err")
[[ -n $n ]] && ((n > 0)) || fail "no chunk was decompressed before staging: $(grep -v '^ready' "$WORK/back.err" | tail -n 5)"
log "$(grep '^PASS' "$WORK/back.out"); $n chunks decompressed before staging"

"$EDIT" "$WORK/$prog.ckpt" "$WORK/bad.ckpt" compress=zstd corrupt_zstd=1 >"$WORK/edit.out" 2>&1 ||
  fail "image_edit failed: $(cat "$WORK/edit.out")"
"$RESTORE" "$WORK/bad.ckpt" </dev/null >"$WORK/bad.out" 2>"$WORK/bad.err"
rc=$?
((rc == 1)) || fail "restore of an image with a corrupt zstd chunk exited $rc, not 1: $(head -n 3 "$WORK/bad.err")"
grep -q 'page data checksum mismatch for the chunk at' "$WORK/bad.err" ||
  fail "the refusal does not name the chunk's checksum: $(head -n 3 "$WORK/bad.err")"
[[ ! -s $WORK/bad.out ]] || fail "the refused image ran: $(head -n 3 "$WORK/bad.out")"
log "corrupt zstd chunk: $(head -n 1 "$WORK/bad.err")"
unset CKPT_TEST_PREDECODE
log PASS

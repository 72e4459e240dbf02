#!/usr/bin/env bash
# restore --lazy's read-ahead (restorer/PageServer.cpp, ReadAhead): a
# thread of the page server reads and checks chunks ahead of the server,
# which copies the pages from its buffers. With background copying held
# back (every page comes in by a fault) and CKPT_TEST_LAZY_READAHEAD=all
# (the server serves only once the thread has read every chunk, so that
# the path is taken whatever the machine's speed):
#   1. lazyfork (32 MiB of patterned memory, all lazy, a raw image): its
#      check PASSes (the memory bit for bit) and --verbose says that the
#      server took chunks from the read-ahead;
#   2. state_compressible (zstd chunks of several ratios and raw ones): the
#      same, through the thread's decompression;
#   3. lazyfork's raw image with a byte of its page data flipped: the
#      thread leaves that chunk to the server, which finds it corrupt when
#      the program touches it, kills the program and says why in one line,
#      as without read-ahead (the thread's failure is not swallowed, and
#      the program never reads the bad chunk's pages).
source "$(dirname "$0")/lib.sh"
export CKPT_TEST_LAZY_READAHEAD=all CKPT_LAZY_PREFETCH_DELAY_MS=600000

# took NAME IMAGE: after NAME's restore of IMAGE (with --verbose) has
# ended, its server must have taken chunks from the thread.
took() {
  wait_lazy_server_gone "$2"
  local line n m
  line=$(sed -n 's/^restore --lazy: the page server took \([0-9]*\) of \([0-9]*\) chunks read and checked ahead$/\1 \2/p' "$WORK/$1.err")
  [[ -n $line ]] || fail "$1: the page server did not say what it took from the read-ahead: $(grep -v '^ready' "$WORK/$1.err" | tail -n 5)"
  read -r n m <<<"$line"
  ((n > 0 && n <= m)) || fail "$1: the page server took $n of $m chunks from the read-ahead"
  log "$1: $(grep '^PASS' "$WORK/$1.out" | head -n 1); the server took $n of $m chunks read and checked ahead"
}

# 1. A raw image, all of it lazy.
COMPRESS=none
start orig "$PROGRAMS/lazyfork"
wait_lines orig 1
dump orig "$WORK/raw.ckpt"
RESTORE_FLAGS="--lazy --verbose" restore_start back "$WORK/raw.ckpt"
send back check
wait_exit back any
grep -q '^PASS' "$WORK/back.out" && ((EXIT_STATUS == 0)) ||
  fail "lazyfork restored with read-ahead did not PASS (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/back.out" | head -n 3)"
took back "$WORK/raw.ckpt"

# 2. zstd and raw chunks side by side.
COMPRESS=zstd
start comp "$PROGRAMS/state_compressible"
wait_lines comp 1
dump comp "$WORK/zstd.ckpt"
"$CKPT" inspect "$WORK/zstd.ckpt" >"$WORK/inspect.out" || fail "ckpt inspect failed"
grep -Eq '^pages: .*\([1-9][0-9]* raw, [1-9][0-9]* zstd\)' "$WORK/inspect.out" ||
  fail "expected both raw and zstd chunks: $(grep '^pages:' "$WORK/inspect.out")"
RESTORE_FLAGS="--lazy --verbose" restore_start zback "$WORK/zstd.ckpt"
send zback check
close_input zback
wait_exit zback any
grep -q '^PASS' "$WORK/zback.out" && ((EXIT_STATUS == 0)) ||
  fail "state_compressible restored with read-ahead did not PASS (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/zback.out" | head -n 3)"
took zback "$WORK/zstd.ckpt"

# 3. A corrupt chunk (16 MiB into the page data: inside lazyfork's area).
cp "$WORK/raw.ckpt" "$WORK/bad.ckpt"
at=$(($("$CKPT" inspect "$WORK/bad.ckpt" | awk '$1 == "page_data" {print $3}') + 16 * 1048576))
printf '\x5a' | dd of="$WORK/bad.ckpt" bs=1 seek="$at" conv=notrunc status=none
RESTORE_FLAGS=--lazy restore_start bad "$WORK/bad.ckpt"
send bad check
wait_exit bad any
((EXIT_STATUS == 137)) || fail "the program meeting a corrupt chunk exited $EXIT_STATUS, not killed (137): $(head -n 3 "$WORK/bad.out")"
grep -q '^PASS\|^FAIL' "$WORK/bad.out" && fail "the program got past the corrupt chunk: $(grep '^PASS\|^FAIL' "$WORK/bad.out")"
wait_lazy_server_gone "$WORK/bad.ckpt"
[[ $(wc -l <"$WORK/bad.err") == 1 ]] && grep -q '^restore --lazy: bad image .*checksum mismatch.*was killed$' "$WORK/bad.err" ||
  fail "the page server did not say in one line why it killed: $(head -n 3 "$WORK/bad.err")"
log "a corrupt chunk with read-ahead: killed, $(cat "$WORK/bad.err")"
log "PASS"

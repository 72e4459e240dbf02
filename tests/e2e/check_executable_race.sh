#!/usr/bin/env bash
# `ckpt dump --executable` makes the image u+x on its temporary file, before
# the rename, and never through the final path: once renamed, that path is
# the folder's, and another user may replace it (with a symlink) at once.
#
# An LD_PRELOAD library (tests/programs/rename_swap.c) wins that race every
# time: right after ckpt's rename it moves the image aside and puts a
# symlink to a victim file (mode 0644) in its place. The victim must keep
# its mode 0644, and the image (moved aside) must be 0700 and restorable.
# On the code that chmodded after the rename, the victim became 0700.
source "$(dirname "$0")/lib.sh"

swap=$PROGRAMS/rename_swap.so
[[ -f $swap ]] || fail "$swap is not built"
seq 100000 | head -c $((8 * 4096 + 100)) >"$WORK/data"
start c "$PROGRAMS/counter" "$WORK/data"
send c 1 2
wait_lines c 2
img="$WORK/exec.ckpt"
printf 'victim\n' >"$WORK/victim"
chmod 0644 "$WORK/victim"
LD_PRELOAD=$swap CKPT_TEST_SWAP_PATH=$img CKPT_TEST_SWAP_VICTIM=$WORK/victim \
  "$CKPT" dump "$PID_c" -o "$img" --compress "$COMPRESS" --executable >"$WORK/dump.out" 2>"$WORK/dump.err"
rc=$?
[[ -L $img && -f $img.moved ]] || fail "the swap did not happen (is rename_swap.so preloaded?): $(ls -l "$WORK")"
mode=$(stat -c %a "$WORK/victim")
[[ $mode == 644 ]] || fail "the victim behind the swapped-in symlink changed mode to $mode"
((rc == 0)) || fail "ckpt dump --executable exited $rc: $(cat "$WORK/dump.err")"
mode=$(stat -c %a "$img.moved")
[[ $mode == 700 ]] || fail "the image is mode $mode, expected 700 (u+x, owner-only)"
verify "$img.moved"
log "victim kept 644, image 700"
log "PASS"

#!/usr/bin/env bash
# restore --lazy --learn (docs/architecture.md "Lazy restore that learns"):
# the page server records the pages the restored process touches until it
# goes idle into IMAGE.ws, and the next --lazy restore brings exactly those
# in before the program runs. With tests/programs/lazylearn (32 MiB of
# patterned memory; "touch" reads 512 pages spread over 16 MiB) and
# background copying held back, so that every page not yet in faults:
#   1. --learn writes IMAGE.ws holding at least the 512 pages touched, and
#      far fewer than the area's 8192;
#      in a directory the server cannot write, one line says so and the
#      program runs on;
#   2. a plain --lazy restore of a copy of the image (no working set) serves
#      at least one fault per 1 MiB chunk touched (16);
#   3. the next --lazy restore of the image copies the working set's pages
#      before the program runs (its --verbose line) and its server then
#      serves no fault for them (its --verbose count);
#      with copying not held back by the test, the server holds it back
#      until the program is idle, then copies the rest and ends by itself;
#   4. a working set with a flipped byte, and one left beside an image that
#      a new dump replaced (stale), are ignored with one line saying why,
#      and the restore goes on as a plain --lazy one;
#   5. every restored copy answers, then reads its whole 32 MiB as saved.
# (The decoder's limits and the lazy-area rule: unit.test_working_set.)
source "$(dirname "$0")/lib.sh"
prog=lazylearn

fresh_must_fail "$prog"
start orig "$PROGRAMS/$prog"
wait_lines orig 1
dump orig "$WORK/app.ckpt"
cp "$WORK/app.ckpt" "$WORK/plain.ckpt"

# lazy_run NAME IMAGE [FLAGS...]: restores IMAGE with --lazy --verbose and
# FLAGS, copying held back; "touch" must be answered with all 512 pages
# right; then the server is told to finish (SIGTERM) and the program must
# read its whole area as saved. Sets FAULTS: faults the server served the
# restored process (its --verbose line as it ends).
lazy_run() {
  local name=$1 img=$2 server i line; shift 2
  CKPT_LAZY_PREFETCH_DELAY_MS=600000 RESTORE_FLAGS="--lazy --verbose $*" restore_start "$name" "$img"
  send "$name" touch
  wait_lines "$name" 1
  line=$(head -n 1 "$WORK/$name.out")
  [[ $line == "answer 512" ]] || fail "$name: the restored program answered '$line' to touch, expected 'answer 512'"
  if [[ " $* " == *" --learn "* ]]; then
    for ((i = 0; i < WAIT_SECONDS * 20; i++)); do
      grep -qE 'recorded in|no working set recorded' "$WORK/$name.err" && break
      sleep 0.05
    done
  fi
  server=$(lazy_server_of "$img")
  [[ -n $server ]] || fail "$name: no page server runs for $img"
  kill -TERM "$server"
  wait_lazy_server_gone "$img"
  send "$name" check
  close_input "$name"
  wait_exit "$name" any
  grep -q '^PASS' "$WORK/$name.out" && ((EXIT_STATUS == 0)) ||
    fail "$name: the restored program did not PASS (status $EXIT_STATUS): $(grep -v '^answer' "$WORK/$name.out" | head -n 3)"
  FAULTS=$(sed -n 's/^restore --lazy: the page server served \([0-9]*\) page faults of the restored process$/\1/p' "$WORK/$name.err")
  [[ -n $FAULTS ]] || fail "$name: the page server did not say how many faults it served"
}

# 1. Learn.
[[ ! -e $WORK/app.ckpt.ws ]] || fail "a working set exists before any --learn"
lazy_run learn "$WORK/app.ckpt" --learn
[[ -f $WORK/app.ckpt.ws ]] || fail "restore --lazy --learn wrote no $WORK/app.ckpt.ws"
learned=$(sed -n 's/^restore --lazy --learn: \([0-9]*\) pages in [0-9]* runs recorded in .*/\1/p' "$WORK/learn.err")
[[ -n $learned ]] && ((learned >= 512 && learned < 4096)) ||
  fail "--learn recorded '${learned}' pages, expected the 512 touched (and a few more), far fewer than 8192"
ls "$WORK" | grep -q '\.tmp\.' && fail "a temporary file of the working set was left behind: $(ls "$WORK")"
log "learned: $(grep 'recorded in' "$WORK/learn.err"); $FAULTS faults served while learning"

# 1b. A directory the server cannot write (it keeps no capability, so not
# even root's DAC override): one line, and the program runs on unharmed.
mkdir "$WORK/ro"
cp "$WORK/app.ckpt" "$WORK/ro/app.ckpt"
chown nobody "$WORK/ro" 2>/dev/null && chmod 555 "$WORK/ro" || fail "cannot make $WORK/ro read-only for the test"
lazy_run rolearn "$WORK/ro/app.ckpt" --learn
grep -qE "^restore --lazy --learn: no working set recorded: cannot create app\.ckpt\.ws\.tmp\.[0-9]+: Permission denied$" \
  "$WORK/rolearn.err" || fail "an unwritable directory did not give its one line: $(cat "$WORK/rolearn.err")"
[[ -e $WORK/ro/app.ckpt.ws ]] && fail "a working set appeared in the read-only directory"
chmod 755 "$WORK/ro"

# 2. The control: the same image without a working set.
lazy_run plain "$WORK/plain.ckpt"
plain_faults=$FAULTS
grep -q 'working set' "$WORK/plain.err" && fail "a restore without a working set mentioned one: $(cat "$WORK/plain.err")"
((plain_faults >= 16)) || fail "plain --lazy served $plain_faults faults; the touch alone should cause 16"

# 3. The learned working set, used.
lazy_run used "$WORK/app.ckpt"
copied=$(sed -n 's/^restore: working set .*: \([0-9]*\) pages copied and [0-9]* zero pages mapped.*/\1/p' "$WORK/used.err")
[[ -n $copied ]] && ((copied >= 512)) ||
  fail "the working set was not brought in before the program ran (copied '${copied}'): $(cat "$WORK/used.err")"
((FAULTS == 0)) ||
  fail "with the working set brought in, the server still served $FAULTS faults (plain --lazy: $plain_faults)"
log "used: $copied pages brought in before the program ran; faults served $FAULTS (plain --lazy: $plain_faults)"

# 3b. With a working set the server holds background copying back until
# the program goes idle, then copies the rest and ends by itself.
RESTORE_FLAGS="--lazy" restore_start idle "$WORK/app.ckpt"
send idle touch
wait_lines idle 1
wait_lazy_server_gone "$WORK/app.ckpt"
send idle check
close_input idle
wait_exit idle any
grep -q '^PASS' "$WORK/idle.out" && ((EXIT_STATUS == 0)) ||
  fail "after its page server ended by itself, the program did not PASS: $(head -n 3 "$WORK/idle.out")"

# 4a. A corrupt working set is ignored, saying why.
cp "$WORK/app.ckpt.ws" "$WORK/good.ws"
printf '\xff' | dd of="$WORK/app.ckpt.ws" bs=1 seek=44 conv=notrunc status=none
lazy_run corrupt "$WORK/app.ckpt"
grep -qx "restore: $WORK/app.ckpt.ws ignored: bad working set at offset [0-9]*: checksum mismatch; restoring as plain --lazy" \
  "$WORK/corrupt.err" || fail "a corrupt working set was not ignored with its one line: $(cat "$WORK/corrupt.err")"
((FAULTS >= 16)) || fail "with a corrupt working set ignored, only $FAULTS faults were served (plain: $plain_faults)"
grep -q 'pages copied' "$WORK/corrupt.err" && fail "pages of a corrupt working set were brought in"

# 4b. A stale one: a new dump replaced the image it was learned on.
cp "$WORK/good.ws" "$WORK/app.ckpt.ws"
start orig2 "$PROGRAMS/$prog"
wait_lines orig2 1
dump orig2 "$WORK/app.ckpt"
lazy_run stale "$WORK/app.ckpt"
grep -qx "restore: $WORK/app.ckpt.ws ignored: it was learned on another image (its image id [0-9a-fx]*, this image's [0-9a-fx]*); .*" \
  "$WORK/stale.err" || fail "a stale working set was not ignored with its one line: $(cat "$WORK/stale.err")"
grep -q 'pages copied' "$WORK/stale.err" && fail "pages of a stale working set were brought in"
log "PASS: learned $learned pages; then no fault for them (plain --lazy: $plain_faults faults); corrupt and stale working sets ignored with one line"

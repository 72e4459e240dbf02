#!/usr/bin/env bash
# restore --lazy: tests/programs/state_lazy checks its memory through a
# kernel read, MADV_DONTNEED, mremap, munmap, a split (mprotect) and fork,
# each on pages the page server has not yet brought in (background copying
# held back with CKPT_LAZY_PREFETCH_DELAY_MS), and must PASS; then again
# with copying racing the program, from a zstd image, several times (a
# copy into an area an mremap is moving away fails with ENOENT before the
# event saying where it went can be read). Around that:
#   - before the check the restored process must be small (its 32 MiB not
#     yet read: the restore really was lazy) and the page server (comm
#     ckpt-lazy, its command line restore's) must be alive and must not be
#     the restored process's child;
#   - once the process (and its fork) ended, the server must end too;
#   - a truncated image is refused (exit 1, one line) and leaves no page
#     server behind, though the server is started before the image is read;
#   - without CAP_SYS_PTRACE (no userfaultfd fork events) --lazy is
#     refused before anything happens;
#   - a raw image with one byte of the lazy area's page data flipped:
#     plain restore refuses it before its point of no return (exit 1), and
#     restore --lazy's server, finding it on first touch, kills the restored
#     process and says why in one line.
source "$(dirname "$0")/lib.sh"
prog=state_lazy

start fresh "$PROGRAMS/$prog" --fresh
wait_lines fresh 1
send fresh check
close_input fresh
wait_exit fresh any
((EXIT_STATUS != 0)) && grep -q '^FAIL' "$WORK/fresh.out" ||
  fail "$prog --fresh did not FAIL its check (status $EXIT_STATUS): the check cannot tell"

# Round 1: raw image, every check meets pages not yet brought in.
COMPRESS=none
start orig "$PROGRAMS/$prog"
wait_lines orig 1
dump orig "$WORK/raw.ckpt"
cp "$WORK/raw.ckpt" "$WORK/bad.ckpt"
# Without CAP_SYS_PTRACE the userfaultfd gets no fork events: refused up
# front with one line and exit 1; the caller never becomes the program.
printf 'check\n' | setpriv --bounding-set=-sys_ptrace --inh-caps=-sys_ptrace "$RESTORE" --lazy "$WORK/raw.ckpt" \
  >"$WORK/noptrace.out" 2>"$WORK/noptrace.err"
rc=$?
((rc == 1)) && [[ ! -s $WORK/noptrace.out && $(wc -l <"$WORK/noptrace.err") == 1 ]] &&
  grep -q 'CAP_SYS_PTRACE' "$WORK/noptrace.err" ||
  fail "restore --lazy without CAP_SYS_PTRACE exited $rc: $(head -n 2 "$WORK/noptrace.err")"
log "refused without CAP_SYS_PTRACE: $(cat "$WORK/noptrace.err")"
# The page server starts before the image is read: a refused image must
# leave none behind.
head -c 100000 "$WORK/raw.ckpt" >"$WORK/short.ckpt"
"$RESTORE" --lazy "$WORK/short.ckpt" </dev/null >"$WORK/short.out" 2>"$WORK/short.err"
rc=$?
((rc == 1)) && [[ $(wc -l <"$WORK/short.err") == 1 ]] ||
  fail "restore --lazy of a truncated image exited $rc: $(head -n 2 "$WORK/short.err")"
wait_lazy_server_gone "$WORK/short.ckpt"
"$RESTORE" --check --lazy "$WORK/raw.ckpt" >"$WORK/check.out" 2>&1 && grep -q 'can be restored here' "$WORK/check.out" ||
  fail "restore --check --lazy did not accept the image: $(head -n 2 "$WORK/check.out")"
CKPT_LAZY_PREFETCH_DELAY_MS=60000 RESTORE_FLAGS=--lazy restore_start held "$WORK/raw.ckpt"
sleep 0.3
server=$(lazy_server_of "$WORK/raw.ckpt")
[[ -n $server ]] || fail "no page server (ckpt-lazy) runs for the lazy restore"
ppid=$(awk '/^PPid:/ {print $2}' "/proc/$server/status")
((ppid != PID_held)) || fail "the page server is a child of the restored process"
rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$PID_held/status")
((rss < 16384)) || fail "the restored process has $rss kB resident before touching its memory: not lazy"
check_std_fds held
# Dumped while its pages are still coming in: refused (its areas are
# registered with the page server's userfaultfd, and pages not yet brought
# in would read as never touched), and the process carries on.
"$CKPT" dump "$PID_held" -o "$WORK/inflight.ckpt" >"$WORK/inflight.out" 2>"$WORK/inflight.err"
rc=$?
((rc == 1)) && grep -q 'registered with a userfaultfd' "$WORK/inflight.err" ||
  fail "a dump during a lazy restore exited $rc: $(head -n 2 "$WORK/inflight.err")"
[[ ! -e $WORK/inflight.ckpt ]] || fail "the refused dump left an image behind"
send held check
wait_exit held any
grep -q '^PASS' "$WORK/held.out" && ((EXIT_STATUS == 0)) ||
  fail "lazily restored $prog did not PASS (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/held.out" | head -n 5)"
check_quiet "$WORK/held.err" "restored $prog"
wait_lazy_server_gone "$WORK/raw.ckpt"
log "held back: $(grep '^PASS' "$WORK/held.out"), resident before the check ${rss} kB"

# Round 2: zstd image, background copying races the checks.
COMPRESS=zstd
start orig2 "$PROGRAMS/$prog"
wait_lines orig2 1
dump orig2 "$WORK/zstd.ckpt"
# Through `ckpt run --lazy` this time (it finds restore on PATH in a build
# tree). Five times: where the copying meets the program's mremap differs.
for round in 1 2 3 4 5; do
  PATH="$(dirname "$RESTORE"):$PATH" _spawn racing$round "$CKPT" run --lazy "$WORK/zstd.ckpt"
  send racing$round check
  wait_exit racing$round any
  grep -q '^PASS' "$WORK/racing$round.out" && ((EXIT_STATUS == 0)) ||
    fail "lazily restored $prog (copying in the background, run $round) did not PASS (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/racing$round.out" | head -n 5)"
  check_quiet "$WORK/racing$round.err" "restored $prog"
  wait_lazy_server_gone "$WORK/zstd.ckpt"
done
log "racing: PASS, 5 runs"

# Round 3: corrupt page data in the lazy area (16 MiB into the page data:
# inside the 32 MiB area, whose chunks are all there is at that depth).
at=$(($("$CKPT" inspect "$WORK/bad.ckpt" | awk '$1 == "page_data" {print $3}') + 16 * 1048576))
printf '\x5a' | dd of="$WORK/bad.ckpt" bs=1 seek="$at" conv=notrunc status=none
"$RESTORE" "$WORK/bad.ckpt" </dev/null >"$WORK/eager-bad.out" 2>"$WORK/eager-bad.err"
rc=$?
((rc == 1)) && grep -q 'checksum mismatch' "$WORK/eager-bad.err" ||
  fail "plain restore of the corrupt image exited $rc: $(head -n 2 "$WORK/eager-bad.err")"
CKPT_LAZY_PREFETCH_DELAY_MS=60000 RESTORE_FLAGS=--lazy restore_start bad "$WORK/bad.ckpt"
send bad check
wait_exit bad any
((EXIT_STATUS == 137)) || fail "the restored process with corrupt lazy pages exited $EXIT_STATUS, not killed (137)"
[[ $(wc -l <"$WORK/bad.err") == 1 ]] && grep -q '^restore --lazy: bad image .*checksum mismatch.* was killed$' "$WORK/bad.err" ||
  fail "the page server did not say in one line why it killed the process: $(head -n 3 "$WORK/bad.err")"
wait_lazy_server_gone "$WORK/bad.ckpt"
log "corrupt page data: plain restore refused, lazy one killed: $(cat "$WORK/bad.err")"
log "PASS"

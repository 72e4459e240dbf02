#!/usr/bin/env bash
# restore run by a real-time parent (`chrt -f`, or a benchmark's launcher
# under SCHED_FIFO): the restored process still gets its saved normal
# policy and its timer slack. A task forked by a real-time parent has a
# "default" timer slack of 0, which it gets back when it leaves the
# real-time policy; restore used to set the saved slack before the saved
# policy and then refused every image ("timer slack comes out different").
# state_sched (SCHED_BATCH, nice 7, slack 123456 ns, ...) checks from inside.
source "$(dirname "$0")/lib.sh"
prog=state_sched
command -v chrt >/dev/null || { log "SKIPPED: no chrt (util-linux) on this machine"; exit 77; }
chrt -f 1 true 2>/dev/null || { log "SKIPPED: SCHED_FIFO is not allowed here (needs CAP_SYS_NICE)"; exit 77; }

start orig "$PROGRAMS/$prog"
wait_lines orig 1
dump orig "$WORK/$prog.ckpt"
"$RESTORE" --check "$WORK/$prog.ckpt" >/dev/null 2>"$WORK/check.err" ||
  fail "restore --check refused the image without chrt: $(cat "$WORK/check.err")"
chrt -f 10 "$RESTORE" --check "$WORK/$prog.ckpt" >/dev/null 2>"$WORK/check-rt.err" ||
  fail "restore --check under chrt -f refused the image: $(cat "$WORK/check-rt.err")"
RESTORE_REAL=$RESTORE
RESTORE="$WORK/restore-rt"
printf '#!/bin/sh\nexec chrt -f 10 "%s" "$@"\n' "$RESTORE_REAL" >"$RESTORE" && chmod +x "$RESTORE" ||
  fail "cannot write $RESTORE"
restored_must_pass "$WORK/$prog.ckpt" "$prog (restored by a SCHED_FIFO parent)"
log PASS

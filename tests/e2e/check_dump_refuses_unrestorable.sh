#!/usr/bin/env bash
# `ckpt dump` applies every rule restore applies to an image's own content
# (it re-reads what it wrote with restore's reader and format/Validate.cpp)
# before it commits the image and before --kill: a process whose image
# restore would refuse is refused at dump time and keeps running.
#
# segment_selector holds %es = 0x33, a selector the restorer cannot load
# again. `ckpt dump --kill` must exit 1 with one line that says restore
# would refuse the image and why (the segment selector), leave neither the
# image nor a temporary file, and leave the process running, untraced,
# with its %es intact: it answers on stdin afterwards. The same without
# --kill. On the code before this check, the dump succeeded, killed the
# process, and only `restore` refused the image.
source "$(dirname "$0")/lib.sh"

start sel "$PROGRAMS/segment_selector"
wait_lines sel 1
pid=$PID_sel
img="$WORK/sel.ckpt"
for kill in --kill ""; do
  "$CKPT" dump "$pid" -o "$img" --compress "$COMPRESS" $kill >"$WORK/dump.out" 2>"$WORK/dump.err"
  rc=$?
  ((rc == 1)) || fail "ckpt dump $kill of a process holding %es = 0x33 exited $rc, expected 1 (refused)"
  [[ $(wc -l <"$WORK/dump.err") == 1 ]] || fail "ckpt dump $kill printed more than one line"
  grep -q "restore would refuse this image" "$WORK/dump.err" || fail "the refusal does not say restore would refuse it"
  grep -q "segment selector 51" "$WORK/dump.err" || fail "the refusal does not say why (segment selector 51)"
  grep -q "pid $pid" "$WORK/dump.err" || fail "the refusal does not name pid $pid"
  [[ -e $img ]] && fail "a refused dump left an image"
  compgen -G "$img.tmp*" >/dev/null && fail "a refused dump left a temporary file"
  state=$(proc_state "$pid")
  [[ $state == S || $state == R ]] || fail "the process is in state '$state' after the refused dump $kill"
  tracer=$(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status")
  [[ $tracer == 0 ]] || fail "the process is still traced by $tracer after the refused dump $kill"
  have=$(wc -l <"$WORK/sel.out")
  send sel "still there?"
  wait_lines sel $((have + 1))
  tail -n 1 "$WORK/sel.out" | grep -qx 'alive es=0x33' || fail "the process did not answer as before: $(tail -n 1 "$WORK/sel.out")"
  log "dump ${kill:-without --kill}: $(cat "$WORK/dump.err")"
done
close_input sel
wait_exit sel 0
log "PASS"

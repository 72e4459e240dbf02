#!/usr/bin/env bash
# A process under memory-deny-write-execute (prctl PR_SET_MDWE) is refused
# at dump, with --kill and without: exit 1, one line naming it, no image,
# and the process runs on untraced with the flag and its maps as they
# were. ckpt does not restore the flag, so a restored copy would have
# lost it; before this check the dump succeeded and the restore came back
# without it.
#
# It also covers the dumper's way round such a process: the batch of
# injected calls needs a writable and executable area, which the kernel
# refuses here, so the calls go one by one (a traced dump shows no batch
# fault point) and the refused mapping leaves nothing behind.
source "$(dirname "$0")/lib.sh"

start m "$PROGRAMS/mdwe"
wait_lines m 1
grep -qx 'ready mdwe=1' "$WORK/m.out" || fail "the program did not set memory-deny-write-execute: $(head -n 1 "$WORK/m.out")"
pid=$PID_m
maps_before=$(<"/proc/$pid/maps")
img="$WORK/m.ckpt"
for kill in --kill ""; do
  "$CKPT" dump "$pid" -o "$img" $kill >"$WORK/dump.out" 2>"$WORK/dump.err"
  rc=$?
  ((rc == 1)) || fail "ckpt dump $kill of a process under memory-deny-write-execute exited $rc, expected 1"
  [[ $(wc -l <"$WORK/dump.err") == 1 ]] || fail "ckpt dump $kill printed more than one line: $(cat "$WORK/dump.err")"
  grep -q "pid $pid: runs under memory-deny-write-execute (prctl PR_SET_MDWE, flags 1), which ckpt does not restore" \
    "$WORK/dump.err" || fail "the refusal does not name it: $(cat "$WORK/dump.err")"
  [[ -e $img ]] && fail "a refused dump left an image"
  compgen -G "$img.tmp*" >/dev/null && fail "a refused dump left a temporary file"
  state=$(proc_state "$pid")
  [[ $state == S || $state == R ]] || fail "the process is in state '$state' after the refused dump $kill"
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$pid/status") == 0 ]] || fail "the process is still traced"
  [[ $(<"/proc/$pid/maps") == "$maps_before" ]] || fail "the refused dump $kill changed the process's maps"
  have=$(wc -l <"$WORK/m.out")
  send m "still there?"
  wait_lines m $((have + 1))
  tail -n 1 "$WORK/m.out" | grep -qx 'alive mdwe=1' || fail "the process did not answer as before: $(tail -n 1 "$WORK/m.out")"
  log "dump ${kill:-without --kill}: $(cat "$WORK/dump.err")"
done

CKPT_FAULT=trace "$CKPT" dump "$pid" -o "$img" >/dev/null 2>"$WORK/trace.err"
grep -q 'inject: at the system call.s exit' "$WORK/trace.err" || fail "the traced dump injected no call"
grep -q 'inject: batch' "$WORK/trace.err" && fail "a batch of injected calls ran in a process that cannot map one"
[[ $(<"/proc/$pid/maps") == "$maps_before" ]] || fail "the traced dump changed the process's maps"
log "calls injected one by one: $(grep -c 'inject: at the system call.s exit' "$WORK/trace.err") of them"
close_input m
wait_exit m 0
log "PASS"

#!/usr/bin/env bash
# Snapshot dumps (issue 17, `ckpt dump --snapshot`): the tree is stopped only
# to write-protect its memory (a userfaultfd made inside it), then runs on
# while ckpt copies each page before its first write. The target,
# tests/programs/stamper.c, keeps stamping every page of 64 MiB from 3
# threads; restored, every thread must find each page exactly as one
# instant left it (its check sweeps twice more), over several dumps. The
# target must be left as it was: running, untraced, the same fds and maps
# (no userfaultfd left registered). Failures after the freeze fail only the
# image, in one line: the target exiting during the copy, and the target
# giving memory back (madvise) before it was copied.
source "$(dirname "$0")/lib.sh"

wait_stopped() {  # PID POINT
  local i
  for ((i = 0; i < WAIT_SECONDS * 100; i++)); do
    [[ $(proc_state "$1") == T ]] && return 0
    sleep 0.01
  done
  fail "ckpt (pid $1) did not stop at the fault point '$2'"
}
snapshot_of() {  # NAME IMAGE: a snapshot dump that must succeed, with no fallback
  local pid
  pid=$(pid_of "$1")
  "$CKPT" dump "$pid" -o "$2" --snapshot --json >"$WORK/snap.out" 2>"$WORK/snap.err" ||
    fail "ckpt dump --snapshot of $1 failed: $(cat "$WORK/snap.err")"
  check_quiet "$WORK/snap.err" "ckpt dump --snapshot"
  python3 - "$WORK/snap.out" <<'PY' || fail "ckpt dump --snapshot --json: $(cat "$WORK/snap.out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["snapshot"] is True and d["warnings"] == [] and d["frozen_ms"] > 0, d
assert d["prestop_ms"] > 0, "not protected before the freeze: %r" % d
print("snapshot: frozen %.1f ms, %d pages saved, %d copied on a write fault" % (d["frozen_ms"], d["pages_saved"], d["pages_faulted"]))
PY
}

start s "$PROGRAMS/stamper" 64 3
wait_lines s 1
maps_before=$(cat "/proc/$PID_s/maps")
fds_before=$(ls -l "/proc/$PID_s/fd" | awk '{print $9, $11}')
faulted=0
for n in 1 2 3; do
  snapshot_of s "$WORK/s$n.ckpt" | tee "$WORK/snap$n.log"
  f=$(awk '{print $NF}' FS=', ' "$WORK/snap$n.log" | grep -o '^[0-9]*')
  faulted=$((faulted + f))
  state=$(proc_state "$PID_s")
  [[ $state == R || $state == S ]] || fail "after a snapshot the target is in state '$state'"
  [[ $(awk '/^TracerPid:/ {print $2}' "/proc/$PID_s/status") == 0 ]] || fail "after a snapshot the target is traced"
  [[ $(cat "/proc/$PID_s/maps") == "$maps_before" ]] || fail "after a snapshot the target's maps differ: $(diff <(echo "$maps_before") "/proc/$PID_s/maps")"
  [[ $(ls -l "/proc/$PID_s/fd" | awk '{print $9, $11}') == "$fds_before" ]] || fail "after a snapshot the target's fds differ"
  if grep -E '^VmFlags:.* u[wmi]( |$)' "/proc/$PID_s/smaps" >/dev/null; then
    fail "after a snapshot an area of the target is still registered with a userfaultfd"
  fi
done
((faulted > 0)) || fail "no page was copied on a write fault in 3 snapshots of 3 writing threads: the protection did nothing"
log "$faulted pages copied on write faults over 3 snapshots; the target left as it was"

# Each image is one instant.
kill -9 "$PID_s"
wait "$PID_s" 2>/dev/null
unset "_PIDS[s]"
for n in 1 2 3; do
  restored_must_pass "$WORK/s$n.ckpt" stamper
  unset "_PIDS[back]"
done

# The target exits while its memory is being copied: the image fails in one line.
start e "$PROGRAMS/stamper" 16 2
wait_lines e 1
CKPT_FAULT=stop CKPT_FAULT_AT="dump: snapshot running" "$CKPT" dump "$PID_e" -o "$WORK/e.ckpt" --snapshot \
  >/dev/null 2>"$WORK/e.err" &
dumper=$!
wait_stopped "$dumper" "dump: snapshot running"
state=$(proc_state "$PID_e")
[[ $state != t ]] || fail "with its memory write-protected, the target is still stopped by ptrace"
kill -9 "$PID_e"
kill -CONT "$dumper"
wait "$dumper" && fail "a snapshot whose target died during the copy succeeded"
(($(wc -l <"$WORK/e.err") == 1)) || fail "the failure is not one line: $(cat "$WORK/e.err")"
grep -q "during the snapshot" "$WORK/e.err" || fail "the failure does not name the snapshot: $(cat "$WORK/e.err")"
[[ ! -e $WORK/e.ckpt ]] || fail "a failed snapshot left an image"
log "target killed during the copy: $(cat "$WORK/e.err")"
unset "_PIDS[e]"

# The target gives memory back before it was copied: refused, and it runs on.
# Its handler can run only once ckpt goes on (the frame it writes is
# write-protected too), so it races the copier for the buffer's last MiB:
# where the copier wins, the madvise came after the copy and the image is
# simply exact (checked), and the case is tried again, up to 10 times.
for ((try = 1; try <= 10; try++)); do
  start g "$PROGRAMS/stamper" 16 2
  wait_lines g 1
  CKPT_FAULT=stop CKPT_FAULT_AT="dump: snapshot running" "$CKPT" dump "$PID_g" -o "$WORK/g.ckpt" --snapshot \
    >/dev/null 2>"$WORK/g.err" &
  dumper=$!
  wait_stopped "$dumper" "dump: snapshot running"
  kill -USR1 "$PID_g"
  sleep 0.2
  kill -CONT "$dumper"
  wait "$dumper" || break
  log "try $try: the copy finished before the handler's madvise; the image is checked, then again"
  restore_start gback "$WORK/g.ckpt"
  send gback check
  wait_exit gback 0
  grep -q '^PASS' "$WORK/gback.out" || fail "a snapshot that won the race restored wrong: $(cat "$WORK/gback.out")"
  rm -f "$WORK/g.ckpt"
  kill -9 "$PID_g"
  wait "$PID_g" 2>/dev/null
  unset "_PIDS[g]"
done
((try <= 10)) || fail "in 10 tries the snapshot never saw the target give memory back before it was copied"
(($(wc -l <"$WORK/g.err") == 1)) || fail "the failure is not one line: $(cat "$WORK/g.err")"
grep -q "^ckpt: pid $PID_g gave back (madvise) its memory at 0x[0-9a-f]*-0x[0-9a-f]* before the snapshot had copied it" \
  "$WORK/g.err" || fail "the failure does not say what was lost: $(cat "$WORK/g.err")"
[[ ! -e $WORK/g.ckpt ]] || fail "a failed snapshot left an image"
state=$(proc_state "$PID_g")
[[ $state == R || $state == S ]] || fail "after the failed snapshot the target is in state '$state'"
log "memory given back during the copy: $(cat "$WORK/g.err")"
log PASS

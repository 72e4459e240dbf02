#!/usr/bin/env bash
# Short freezes (issue 17): without --kill the dumped process is stopped only
# while its state and memory are read; its pages are copied aside and then
# compressed and written while it runs again. ckpt is stopped at the fault
# point after the page data is written (CKPT_FAULT=stop): the target must be
# running there, untraced, and the image, restored, must still be one
# instant of it (tests/programs/stamper.c: threads stamping every page).
# Every dump reports its freeze: "frozen N ms" in the summary line, and
# frozen_ms in `ckpt dump --json`. When the machine lacks the memory to copy
# the pages aside (CKPT_DUMP_MEMORY_AVAILABLE stands in for MemAvailable),
# the dump says so and keeps the target stopped while writing, as before. A
# failure after the release fails only the image, in one line.
source "$(dirname "$0")/lib.sh"

wait_stopped() {  # PID: waits until it is in a stop (SIGSTOP), or fails
  local i
  for ((i = 0; i < WAIT_SECONDS * 100; i++)); do
    [[ $(proc_state "$1") == T ]] && return 0
    sleep 0.01
  done
  fail "ckpt (pid $1) did not stop at the fault point 'dump: pages written'"
}
tracer_of() { awk '/^TracerPid:/ {print $2}' "/proc/$1/status"; }

start s "$PROGRAMS/stamper" 64 3
wait_lines s 1

# 1. Stopped after the pages were written: the target already runs.
CKPT_FAULT=stop CKPT_FAULT_AT="dump: pages written" "$CKPT" dump "$PID_s" -o "$WORK/s.ckpt" --compress zstd:19 \
  --json >"$WORK/dump.out" 2>"$WORK/dump.err" &
dumper=$!
wait_stopped "$dumper"
state=$(proc_state "$PID_s")
tracer=$(tracer_of "$PID_s")
before=$(awk '{print $14 + $15}' "/proc/$PID_s/stat")
sleep 0.2
after=$(awk '{print $14 + $15}' "/proc/$PID_s/stat")
kill -CONT "$dumper"
wait "$dumper" || fail "the dump failed: $(cat "$WORK/dump.err")"
[[ $state == R || $state == S ]] || fail "while its pages were compressed and written, the target was in state '$state'"
[[ $tracer == 0 ]] || fail "while its pages were compressed and written, the target was traced by $tracer"
((after > before)) || fail "the target did not run while its pages were compressed and written (cpu ticks $before -> $after)"
log "target running (state $state, cpu ticks $before -> $after) while its image was compressed and written"
check_quiet "$WORK/dump.err" "ckpt dump"

# 2. --json: one object holding the freeze.
python3 - "$WORK/dump.out" <<'PY' || fail "ckpt dump --json: $(cat "$WORK/dump.out")"
import json, sys
d = json.load(open(sys.argv[1]))
assert isinstance(d["frozen_ms"], (int, float)) and 0 < d["frozen_ms"] <= d["seconds"] * 1000, d
assert d["pages_saved"] > 16000 and d["killed"] is False and d["warnings"] == [], d
print("json ok: frozen_ms", d["frozen_ms"], "of", round(d["seconds"] * 1000, 1), "ms")
PY

# 3. The image is one instant: restored, every thread finds the stamps it expects.
kill -9 "$PID_s"
wait "$PID_s" 2>/dev/null
unset "_PIDS[s]"
restored_must_pass "$WORK/s.ckpt" stamper

# 4. The summary line names the freeze; --kill too.
start k "$PROGRAMS/stamper" 8 2
wait_lines k 1
dump k "$WORK/k.ckpt"
grep -qE '^ckpt: dumped pid [0-9]+ .*, frozen [0-9]+ ms, process killed$' "$WORK/dump-k.err" ||
  fail "the summary line of dump --kill does not say 'frozen N ms': $(cat "$WORK/dump-k.err")"
restored_must_pass "$WORK/k.ckpt" stamper

# 5. A failure after the release (forced at the point after the pages are written) fails only the image.
start f "$PROGRAMS/stamper" 8 2
wait_lines f 1
CKPT_FAULT=fail CKPT_FAULT_AT="dump: pages written" "$CKPT" dump "$PID_f" -o "$WORK/f.ckpt" >/dev/null 2>"$WORK/f.err" &&
  fail "a dump failing after the release succeeded"
(($(wc -l <"$WORK/f.err") == 1)) || fail "the failure after the release is not one line: $(cat "$WORK/f.err")"
[[ ! -e $WORK/f.ckpt ]] && ! ls "$WORK"/f.ckpt.tmp-* >/dev/null 2>&1 || fail "a failed dump left a file"
state=$(proc_state "$PID_f")
[[ $state == R || $state == S ]] || fail "after a failure after the release the target is in state '$state'"
[[ $(awk '/^TracerPid:/ {print $2}' "/proc/$PID_f/status") == 0 ]] || fail "after a failure the target is traced"
log "failure after the release: $(cat "$WORK/f.err"); the target runs on"

# 6. Too little memory to copy the pages aside: a note, and the old way (stopped while written).
start m "$PROGRAMS/stamper" 16 2
wait_lines m 1
CKPT_DUMP_MEMORY_AVAILABLE=1048576 CKPT_FAULT=stop CKPT_FAULT_AT="dump: pages written" "$CKPT" dump "$PID_m" \
  -o "$WORK/m.ckpt" >"$WORK/m.out" 2>"$WORK/m.err" &
dumper=$!
wait_stopped "$dumper"
state=$(proc_state "$PID_m")
kill -CONT "$dumper"
wait "$dumper" || fail "the dump with little memory failed: $(cat "$WORK/m.err")"
[[ $state == t ]] || fail "with too little memory to copy aside, the target was in state '$state' while written, not stopped"
grep -q "^ckpt: warning: only 1 MiB of memory available, too little to copy [0-9]* MiB of pid $PID_m's pages aside: it stayed stopped while its image was compressed and written$" "$WORK/m.err" ||
  fail "no note about the memory: $(cat "$WORK/m.err")"
grep -qE '^ckpt: dumped pid [0-9]+ .*, frozen [0-9]+ ms$' "$WORK/m.err" || fail "no 'frozen N ms': $(cat "$WORK/m.err")"
state=$(proc_state "$PID_m")
[[ $state == R || $state == S ]] || fail "after the dump the target is in state '$state'"
log "with too little memory: $(grep warning "$WORK/m.err")"
log PASS

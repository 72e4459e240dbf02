#!/usr/bin/env bash
# Incremental dumps (docs/architecture.md, "Incremental dumps"): a chain of
# a full `--track` dump and three `--parent` dumps of tests/programs/
# incr_chain, whose memory changes in known steps in between (pages
# rewritten and zapped, in transparent huge pages too, an area unmapped, one appearing, one moved by
# mremap, one replaced by MAP_FIXED, a copied-on-write file page, malloc
# memory), restores exactly at every link: each image restored checks from
# inside its memory and maps as they were at its step. Each incremental
# image holds only what was written (its parent runs cover the rest);
# verify, restore --check and inspect (text and JSON) follow the chain; the
# tracking keeper is gone once a dump without --track ends the chain. Then
# a busy multi-threaded program (state_threads_busy: registers, FPU state,
# stacks) goes through --track and --parent --kill and passes its check.
source "$(dirname "$0")/lib.sh"

prog=incr_chain
fresh_must_fail_step() {
  start fresh "$PROGRAMS/$prog" --fresh
  wait_lines fresh 1
  send fresh "step 1" "check 1"
  close_input fresh
  wait_exit fresh any
  ((EXIT_STATUS != 0)) && grep -q '^FAIL' "$WORK/fresh.out" ||
    fail "$prog --fresh did not FAIL its check (status $EXIT_STATUS): the check cannot tell"
}
fresh_must_fail_step

# incr NAME IMAGE ARGS...: ckpt dump of NAME with ARGS must succeed quietly.
incr() {
  local name=$1 img=$2 rc
  shift 2
  "$CKPT" dump "$(pid_of "$name")" -o "$img" --compress "$COMPRESS" "$@" >"$WORK/dump.out" 2>"$WORK/dump.err"
  rc=$?
  ((rc == 0)) || fail "ckpt dump $* -o $img exited $rc: $(cat "$WORK/dump.err")"
  check_quiet "$WORK/dump.err" "ckpt dump $*"
  cat "$WORK/dump.err" >>"$WORK/dumps.log"
}

start t "$PROGRAMS/$prog"
wait_lines t 1
pid=$PID_t
incr t "$WORK/base.ckpt" --track
grep -q "@ckpt-track/$pid/" /proc/net/unix || fail "no tracking keeper for pid $pid after dump --track"
[[ $(grep -c uw "/proc/$pid/smaps") -gt 0 ]] || fail "no area of pid $pid is write-protect tracked (uw) after dump --track"
parent=base
for s in 1 2 3; do
  send t "step $s"
  wait_lines t $((s + 1))
  grep -qx "stepped $s" "$WORK/t.out" || fail "step $s was not applied"
  if ((s < 3)); then
    incr t "$WORK/i$s.ckpt" --parent "$WORK/$parent.ckpt" --track
  else
    disown "$pid"
    incr t "$WORK/i$s.ckpt" --parent "$WORK/$parent.ckpt" --kill
    wait_gone t
  fi
  grep -qE "incremental: [1-9][0-9]* pages left to the parent image" "$WORK/dump.err" ||
    fail "dump $s left no page to its parent: $(cat "$WORK/dump.err")"
  parent=i$s
done
# The keeper ends with the chain (and with the process).
for ((i = 0; i < WAIT_SECONDS * 10; i++)); do
  grep -q "@ckpt-track/$pid/" /proc/net/unix || break
  sleep 0.1
done
grep -q "@ckpt-track/$pid/" /proc/net/unix && fail "the tracking keeper of pid $pid is still there after the chain ended"

# Each incremental image stores fewer pages than the process has: A alone is 1024 pages.
for s in 1 2 3; do
  "$CKPT" inspect "$WORK/i$s.ckpt" >"$WORK/inspect$s.out" || fail "ckpt inspect i$s.ckpt failed"
  saved=$(awk '/^pages: / {print $2}' "$WORK/inspect$s.out")
  ((saved < 800)) || fail "i$s.ckpt stores $saved pages: not incremental"
  grep -q "^incremental: [1-9]" "$WORK/inspect$s.out" || fail "inspect i$s.ckpt does not say it is incremental"
done
(($(grep -c '^  chain ' "$WORK/inspect3.out") == 4)) || fail "inspect i3.ckpt does not show a chain of 4: $(cat "$WORK/inspect3.out")"
grep -q "base.ckpt (full image)" "$WORK/inspect3.out" || fail "inspect i3.ckpt does not end the chain at base.ckpt"
"$CKPT" inspect --json "$WORK/i3.ckpt" >"$WORK/inspect3.json" || fail "ckpt inspect --json failed"
python3 - "$WORK/inspect3.json" "$WORK/i2.ckpt" <<'PY' || fail "inspect --json does not show the chain"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["parent"]["path"] == sys.argv[2] and d["parent"]["depth"] == 3, d["parent"]
assert len(d["chain"]) == 4 and d["chain"][3]["path"].endswith("base.ckpt"), d["chain"]
PY
"$CKPT" verify "$WORK/i3.ckpt" >"$WORK/verify.out" 2>&1 || fail "ckpt verify i3.ckpt: $(cat "$WORK/verify.out")"
grep -q "a chain of 4 images" "$WORK/verify.out" || fail "ckpt verify does not say it checked the chain: $(cat "$WORK/verify.out")"
"$RESTORE" --check "$WORK/i3.ckpt" >"$WORK/check.out" 2>&1 || fail "restore --check i3.ckpt: $(cat "$WORK/check.out")"

# Every link restores exactly as it was at its step.
for s in 0 1 2 3; do
  img=$WORK/i$s.ckpt
  ((s == 0)) && img=$WORK/base.ckpt
  restore_start back$s "$img"
  send back$s "check $s"
  close_input back$s
  wait_exit back$s any
  grep -q '^PASS' "$WORK/back$s.out" && ((EXIT_STATUS == 0)) ||
    fail "restored ${img##*/} did not PASS its step $s (status $EXIT_STATUS): $(grep -v '^ready' "$WORK/back$s.out" | head -n 8)"
  check_quiet "$WORK/back$s.err" "restore ${img##*/}"
done
log "a chain of 4 images restores exactly at every link"

# Registers, FPU state and stacks of busy threads through a chain.
start busy "$PROGRAMS/state_threads_busy"
wait_lines busy 1
incr busy "$WORK/busy0.ckpt" --track
sleep 0.3
incr busy "$WORK/busy1.ckpt" --parent "$WORK/busy0.ckpt" --track
sleep 0.3
disown "$PID_busy"
incr busy "$WORK/busy2.ckpt" --parent "$WORK/busy1.ckpt" --kill
wait_gone busy
restored_must_pass "$WORK/busy2.ckpt" state_threads_busy
